"""What each request does, with the parts the composition root built once (``app.Runtime``): the
library's conversion (``avi2mp4.conversion.owner``) over an S3 source, with the Step Functions
runner, the metrics observer and the idempotency ledger plugged in.

S3 notifications and Batch Operations tasks go through the idempotent unit (``Runtime.process``),
one object at a time. A clip-job run's tasks first find the plan the function stored and hold the
request to it (``finish.plan_for``): bucket, key, version and run must match, or nothing is touched.
The steps that end a run write its outcome to the idempotency table (``ledger``).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.s3_batch_operation_event import S3BatchOperationResponse
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.typing import LambdaContext

from avi2mp4.conversion import finish as run_steps
from avi2mp4.conversion.budget import TimeBudget
from avi2mp4.conversion.finish import Failure, RunRequest
from avi2mp4.conversion.outcome import Converted, Failed, FallBack, Outcome, Rejected
from avi2mp4.conversion.owner import Conversion
from avi2mp4.conversion.ports import ClipRunner, Observer
from avi2mp4.conversion.ports import Runtime as ConversionRuntime
from avi2mp4.errors import ForeignRun
from avi2mp4.outputs.names import is_avi
from avi2mp4.pipeline import Progress
from avi2mp4.storage.port import SourceRef
from avi2mp4.storage.s3 import S3Store
from avi2mp4.storage.s3_source import S3Source
from handler import SERVICE, workdirs
from handler.ledger import IdempotencyLedger
from handler.metrics import record_clip_job
from handler.objects import ObjectRef, ObjectResult, result_of
from handler.requests import BatchTask, RunTask
from handler.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = Logger(service=SERVICE, child=True)


class ConversionFailed(Exception):
    """Some records of the event failed in a way a retry may fix; raised so that Lambda's retries
    and its failure destination act."""


@dataclass(frozen=True)
class Runtime:
    """What the composition root builds once per container."""

    settings: Settings
    idempotency: IdempotencyConfig
    process: Callable[..., ObjectResult]
    """``process(ref=ObjectRef, budget=TimeBudget)``: the idempotent conversion of one object."""
    s3: S3Client
    store: S3Store
    runner: ClipRunner | None
    """Set when a state machine converts long recordings (``STATE_MACHINE_ARN``)."""
    ledger: IdempotencyLedger
    observer: Observer


def skip_reason(bucket: str, key: str, settings: Settings) -> str | None:
    """The guards every request naming an object passes first."""
    if bucket in (settings.video_bucket, settings.image_bucket):
        # Recursion guard: a misconfigured trigger on an output bucket must not loop.
        return f"bucket {bucket} is an output bucket; refusing to process its objects"
    if settings.source_buckets and bucket not in settings.source_buckets:
        # A forged event, task or failure-queue message must not steer the function elsewhere.
        allowed = ", ".join(settings.source_buckets)
        return f"bucket {bucket} is not a source bucket of this stack (SOURCE_BUCKETS: {allowed})"
    if not is_avi(key):
        return "not an .avi key"
    return None


def convert_object(rt: Runtime, ref: ObjectRef, budget: TimeBudget | None = None) -> ObjectResult:
    """The unit of work and of idempotency: one object, converted (or handed to clip jobs)."""
    with WorkFolder(rt) as work:
        source = S3Source(rt.s3, ref.bucket, ref.key, ref.version_id)
        conversion = Conversion(source, rt.settings.pipeline, _runtime(rt, work, budget, rt.runner), ref.identity)
        return result_of(ref.bucket, ref.key, conversion.run())


def handle_records(records: list[ObjectRef], context: LambdaContext, rt: Runtime) -> dict[str, Any]:
    """Every record of an S3 notification; one failing object does not stop the others."""
    # An in-progress idempotency record then expires with this invocation, not after an hour.
    rt.idempotency.register_lambda_context(context)
    done: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    failed: list[dict[str, str]] = []
    for ref in records:
        with logger.append_context_keys(bucket=ref.bucket, s3_key=ref.key):
            reason = skip_reason(ref.bucket, ref.key, rt.settings)
            if reason:
                logger.info(f"skipped: {reason}")
                skipped.append({"bucket": ref.bucket, "key": ref.key, "reason": reason})
                continue
            try:
                result = rt.process(ref=ref, budget=_budget(context, rt))
            except IdempotencyAlreadyInProgressError as exc:
                # A concurrent delivery of the same event is converting it and the retry of this
                # one will find its result, or the record is left by a write whose answer was lost.
                reason = held_reason(rt.ledger.held_until(ref.identity))
                logger.warning(f"another invocation holds this object: {reason}")
                failed.append({"bucket": ref.bucket, "key": ref.key, "error": type(exc).__name__, "reason": reason})
                continue
            except Exception as exc:  # one bad object must not stop the others
                _failed(rt, _unread(ref), exc)
                failed.append({"bucket": ref.bucket, "key": ref.key, "error": type(exc).__name__, "reason": str(exc)})
                continue
            logger.info("done", extra={"status": result.status, "manifest": result.manifest})
            (rejected if result.status == "rejected" else done).append(asdict(result))
    if failed:
        raise ConversionFailed(
            f"{len(failed)} of {len(failed) + len(done)} objects failed: "
            + "; ".join(f"{f['key']}: {f['error']}: {f['reason']}" for f in failed)
        )
    return {"done": done, "rejected": rejected, "skipped": skipped}


def held_reason(until: dt.datetime | None) -> str:
    """Why an object is "in progress elsewhere", and what to do if nothing converts it."""
    when = f"until {until:%Y-%m-%dT%H:%M:%SZ}" if until else "until its idempotency record expires"
    return (
        f"in progress elsewhere ({when}); if it is not converted by then (the record may be left by a "
        "write whose answer was lost), redrive this event after that time: avi2mp4 redrive --queue <url>"
    )


def handle_batch_task(task: BatchTask, context: LambdaContext, rt: Runtime) -> dict[str, Any]:
    """One S3 Batch Operations task (schema 1.0 or 2.0), answered per task: ``Succeeded``
    (converted, already done, or skipped), ``PermanentFailure`` (bad input: a retry cannot help),
    ``TemporaryFailure`` (what a retry may fix)."""
    rt.idempotency.register_lambda_context(context)
    batch = task.event
    response = S3BatchOperationResponse(batch.invocation_schema_version, batch.invocation_id, "PermanentFailure")
    item = batch.task
    ref = ObjectRef.from_task(item.s3_bucket, item.s3_key, item.s3_version_id)
    with logger.append_context_keys(bucket=ref.bucket, s3_key=ref.key, batch_task=item.task_id):
        reason = skip_reason(ref.bucket, ref.key, rt.settings)
        if reason:
            logger.info(f"skipped: {reason}")
            response.add_result(item.build_task_batch_response("Succeeded", f"skipped: {reason}"))
            return response.asdict()
        try:
            result = rt.process(ref=ref, budget=_budget(context, rt))
        except Exception as exc:
            _failed(rt, _unread(ref), exc)
            response.add_result(item.build_task_batch_response("TemporaryFailure", f"{type(exc).__name__}: {exc}"))
            return response.asdict()
    if result.status == "rejected":
        response.add_result(item.build_task_batch_response("PermanentFailure", result.reason or "rejected"))
    else:
        response.add_result(item.build_task_batch_response("Succeeded", f"{result.status}: {result.manifest}"))
    return response.asdict()


def handle_run_task(task: RunTask, context: LambdaContext, rt: Runtime) -> dict[str, Any]:
    """A task of a clip-job run. Its request is held to the stored plan first; a request the plan
    does not bear out (another recording, version or run) is refused and changes nothing."""
    run = task.run
    with logger.append_context_keys(bucket=run.bucket, s3_key=run.key, run=run.run_id, task=task.kind):
        plan = run_steps.plan_for(rt.store, run)
        reason = skip_reason(run.bucket or "", run.key, rt.settings)
        if reason:
            raise ForeignRun(f"refused: {reason}")
        if task.clip is not None and task.clip not in {c.index for c in plan.clips}:
            raise ForeignRun(f"the plan of {run.key} has no clip {task.clip}")
        budget = _budget(context, rt)
        with WorkFolder(rt, sweep=task.kind in ("clip", "one_pass")) as work:
            source = S3Source(rt.s3, run.bucket or "", run.key, plan.source.version_id, plan.source.size)
            conversion = Conversion(source, plan.config, _runtime(rt, work, budget, None), plan.identity)
            if task.kind == "clip":
                assert task.clip is not None
                started = time.monotonic()
                report = conversion.run_clip(plan, task.clip)
                record_clip_job(time.monotonic() - started)
                frames = report.last_frame - report.first_frame + 1
                logger.info("clip stored", extra={"clip": task.clip, "frames": frames, "jpegs": len(report.jpegs)})
                return {"clip": task.clip, "first_frame": report.first_frame, "last_frame": report.last_frame}
            if task.kind == "finish":
                return _settled(rt, plan.identity, run, conversion.finish(plan))
            if task.kind == "one_pass":
                try:
                    return _settled(rt, plan.identity, run, conversion.fall_back(plan))
                except Exception as exc:
                    _failed(rt, plan.source, exc)
                    rt.ledger.forget(plan.identity, exc)
                    raise
            failures = run_steps.recorded_failures(rt.store, plan) + _caught(task.error)
            outcome = conversion.fail(plan, failures)
            if isinstance(outcome, FallBack):
                return {"one_pass": True, "why": outcome.why}
            return {"one_pass": False, **_settled(rt, plan.identity, run, outcome)}


def _settled(rt: Runtime, identity: str, run: RunRequest, outcome: Outcome) -> dict[str, Any]:
    """The run's end: its outcome answers the request that started it from now on."""
    result = result_of(run.bucket or "", run.key, outcome)
    if isinstance(outcome, Converted | Rejected):
        rt.ledger.settle(identity, result)
    elif isinstance(outcome, Failed):
        rt.ledger.forget(identity)
    return asdict(result)


def _caught(error: dict[str, Any] | None) -> list[Failure]:
    """What the state machine caught, as a failure: the Lambda error's type and message from its
    Cause, or a state error (a timeout, a Map that failed)."""
    if not error:
        return []
    cause = str(error.get("Cause", ""))
    try:
        parsed = json.loads(cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("errorType"):
        return [Failure(str(parsed["errorType"]), str(parsed.get("errorMessage", ""))[:500])]
    return [Failure(str(error.get("Error", "Unknown")), cause[:500])]


def _failed(rt: Runtime, source: SourceRef, exc: Exception) -> None:
    """A conversion that raised (a retry may fix it): its traceback logged, and observed once, here
    (counted, logged and published as Failed; the log lines name the object through context keys)."""
    logger.info("the failure's traceback", exc_info=exc)
    rt.observer.outcome(Failed(source, type(exc).__name__, str(exc)))


def _unread(ref: ObjectRef) -> SourceRef:
    """The source as its request names it (size 0: not known before it is read)."""
    return SourceRef(key=ref.key, size=0, bucket=ref.bucket, etag=ref.etag, version_id=ref.version_id)


def _budget(context: LambdaContext, rt: Runtime) -> TimeBudget:
    return TimeBudget(context.get_remaining_time_in_millis, rt.settings.time_reserve_seconds)


def _runtime(rt: Runtime, work: Path, budget: TimeBudget | None, runner: ClipRunner | None) -> ConversionRuntime:
    return ConversionRuntime(rt.store, work, clips=runner, observer=rt.observer,
                             stop=budget.check if budget is not None else None, progress=ProgressLog(),
                             record_rejections=True)  # fmt: skip


class WorkFolder:
    """A work folder of this invocation under /tmp (after sweeping what killed ones left)."""

    def __init__(self, rt: Runtime, sweep: bool = True) -> None:
        self.tmp, self.sweep = rt.settings.tmp_dir, sweep
        self.path: Path | None = None

    def __enter__(self) -> Path:
        if self.sweep:
            for stale in workdirs.sweep_stale(self.tmp):
                logger.info("removed a work folder a killed invocation left", extra={"path": str(stale)})
        self.path = workdirs.create(self.tmp)
        return self.path

    def __exit__(self, *exc: object) -> None:
        if self.path is not None:
            workdirs.remove(self.path)


class ProgressLog:
    """A log line every ``every_seconds`` of work, so a long conversion shows life in CloudWatch."""

    def __init__(self, every_seconds: float = 30.0) -> None:
        self.every = every_seconds
        self.started = self.last = time.monotonic()

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            logger.info("converting", extra={"media_seconds": round(p.seconds, 1), "frames": p.frames,
                                             "expected_seconds": p.expected_seconds,
                                             "speed": round(p.seconds / max(now - self.started, 1e-6), 2)})  # fmt: skip
