"""What an invocation asks for, told apart by what each sender puts in its event, and checked for
shape before anything acts on it. Each kind has one marker: S3 notifications carry records whose
``eventSource`` is ``aws:s3``, S3 sends a test event when a notification is configured, a Batch
Operations job names its ``invocationSchemaVersion``, and the state machine names its ``task``.
Anything else is refused (``UnknownRequest``), never guessed at.

A request is a request: the conversion checks its bucket, key, version and run against the plan
the function stored, and the S3 guards run for every kind that names an object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.s3_batch_operation_event import S3BatchOperationEvent

from avi2mp4.conversion.finish import RunRequest
from avi2mp4.errors import NotRetryable
from handler.objects import ObjectRef

RunTaskKind = Literal["clip", "finish", "clean_up", "one_pass"]
RUN_TASKS: tuple[RunTaskKind, ...] = ("clip", "finish", "clean_up", "one_pass")


class UnknownRequest(NotRetryable):
    """The event is none of the kinds this function answers, or not in the shape of its kind."""


@dataclass(frozen=True)
class S3Notification:
    records: list[ObjectRef]


@dataclass(frozen=True)
class S3TestEvent:
    """What S3 sends once when a notification is configured: nothing to convert."""


@dataclass(frozen=True)
class BatchTask:
    event: S3BatchOperationEvent


@dataclass(frozen=True)
class RunTask:
    """A task of a clip-job run, sent by the state machine (its run is ``$$.Execution.Name``)."""

    kind: RunTaskKind
    run: RunRequest
    clip: int | None = None
    error: dict[str, Any] | None = None
    """The clean-up's: what the state machine caught (``Error``, ``Cause``)."""


Request = S3Notification | S3TestEvent | BatchTask | RunTask


def parse(event: object) -> Request:
    """The kind of request ``event`` is; UnknownRequest if it is none of them."""
    if not isinstance(event, dict):
        raise UnknownRequest(f"an event must be a JSON object, not {type(event).__name__}")
    if "task" in event:
        return run_task(event)
    if event.get("Event") == "s3:TestEvent":
        return S3TestEvent()
    if event.get("invocationSchemaVersion") in ("1.0", "2.0") and isinstance(event.get("tasks"), list):
        return BatchTask(S3BatchOperationEvent(event))
    records = event.get("Records")
    if isinstance(records, list) and records and all(_is_s3_record(r) for r in records):
        return S3Notification([ObjectRef.from_record(r) for r in S3Event(event).records])
    raise UnknownRequest("not an S3 notification, S3 Batch Operations job or task of the state machine "
                         f"(keys: {', '.join(sorted(map(str, event))[:8]) or 'none'})")  # fmt: skip


def run_task(event: dict[str, Any], *kinds: RunTaskKind) -> RunTask:
    """A state machine task, checked for shape (``kinds``: the ones this entry point answers)."""
    allowed = kinds or RUN_TASKS
    kind = next((k for k in allowed if k == event.get("task")), None)
    if kind is None:
        raise UnknownRequest(f"task {event.get('task')!r} is not one of {', '.join(allowed)}")
    bucket, key, version, run = (event.get(k) for k in ("bucket", "key", "version_id", "run"))
    if not isinstance(bucket, str) or not isinstance(key, str) or not isinstance(run, str) or not run:
        raise UnknownRequest(f"task {kind}: bucket, key and run must be strings")
    if version is not None and not isinstance(version, str):
        raise UnknownRequest(f"task {kind}: version_id must be a string or null")
    clip = event.get("clip")
    if kind == "clip" and (not isinstance(clip, int) or isinstance(clip, bool) or clip < 0):
        raise UnknownRequest(f"task clip: clip must be a clip number, not {clip!r}")
    error = event.get("error")
    return RunTask(kind, RunRequest(bucket, key, version, run), clip if kind == "clip" else None,
                   error if isinstance(error, dict) else None)  # fmt: skip


def _is_s3_record(record: object) -> bool:
    return isinstance(record, dict) and record.get("eventSource") == "aws:s3" and isinstance(record.get("s3"), dict)
