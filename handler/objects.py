"""What the handler passes around: one S3 object to convert, and what became of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord

from avi2mp4.conversion.outcome import Converted, Failed, FallBack, HandedOff, Outcome, Rejected, Skipped


@dataclass(frozen=True)
class ObjectRef:
    """One S3 object named by an event record: the unit of work and of idempotency."""

    bucket: str
    key: str
    """Decoded key (S3 events carry it form-urlencoded: ``my+test.avi``)."""
    version_id: str | None
    sequencer: str | None
    etag: str | None
    identity: str
    """bucket + key + (versionId, else sequencer, else eTag): the idempotency key. Hashing the
    whole event would make a redelivered event with another eventTime a new job."""

    @classmethod
    def from_task(cls, bucket: str, key: str, version_id: str | None) -> ObjectRef:
        """An object named by an S3 Batch Operations task (key already decoded). Without a version
        the identity is the key alone, so a task and an event for one object may both run: the
        later one finds the source gone, which counts as done."""
        return cls(bucket, key, version_id or None, None, None, f"{bucket}/{key}#{version_id or ''}")

    @classmethod
    def from_record(cls, record: S3EventRecord) -> ObjectRef:
        bucket = record.s3.bucket.name
        obj = record.s3.get_object
        key = unquote_plus(obj.key)
        version = obj.version_id or None
        sequencer = obj.get("sequencer") or None
        etag = obj.etag or None
        tag = version or sequencer or etag or ""
        return cls(bucket, key, version, sequencer, etag, f"{bucket}/{key}#{tag}")


@dataclass
class ObjectResult:
    """Saved by the idempotency layer and returned again for a duplicate event."""

    bucket: str
    key: str
    status: str
    """``converted``; ``rejected`` (bad input: kept, tagged, the reason recorded; not retried);
    ``gone`` (the source no longer exists: an earlier run finished it); ``superseded`` (a newer
    version was uploaded under the key; its own event converts it); ``handed_off`` (a long
    recording, converted as clip jobs by the state machine: ``execution``); ``failed`` (a clip-job
    run that failed in a way a retry may fix: outputs removed, source kept)."""
    manifest: str | None = None
    clips: list[str] = field(default_factory=list)
    jpegs: int = 0
    dead_frames: int = 0
    frames: int = 0
    duration_seconds: float = 0.0
    decode_errors: int = 0
    source_deleted: bool = False
    reason: str | None = None
    """Why a source was rejected (``ErrorType: message``)."""
    execution: str | None = None
    """The Step Functions execution converting a handed-off recording."""


def result_of(bucket: str, key: str, outcome: Outcome) -> ObjectResult:
    """What the function answers (and the idempotency table keeps) for an outcome."""
    match outcome:
        case Converted():
            return ObjectResult(
                bucket, key, status="converted", manifest=outcome.manifest.location,
                clips=[c.location for c in outcome.clips], jpegs=len(outcome.images),
                dead_frames=len(outcome.dead_frames), frames=outcome.frames,
                duration_seconds=round(outcome.duration_seconds, 3), decode_errors=outcome.decode_errors,
                source_deleted=outcome.source_deleted,
            )  # fmt: skip
        case Rejected():
            location = outcome.record.location if outcome.record is not None else None
            return ObjectResult(bucket, key, status="rejected", manifest=location, reason=outcome.why)
        case HandedOff():
            plan = outcome.plan
            return ObjectResult(bucket, key, status="handed_off", execution=outcome.run, frames=plan.frames,
                                duration_seconds=round(plan.duration_seconds, 3))  # fmt: skip
        case Skipped():
            return ObjectResult(bucket, key, status=outcome.status, reason=outcome.reason)
        case Failed():
            return ObjectResult(bucket, key, status="failed", reason=f"{outcome.error}: {outcome.reason}")
        case FallBack():
            return ObjectResult(bucket, key, status="falling_back", reason=outcome.why)
