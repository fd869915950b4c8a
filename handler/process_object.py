"""One S3 object: download to /tmp, run the job against S3, verify, delete the source."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from avi2mp4 import __version__
from avi2mp4.errors import NotRetryable, StorageError, TimeBudgetExceeded
from avi2mp4.job import run_job
from avi2mp4.outputs.manifest import SourceRef
from avi2mp4.outputs.names import OutputLayout
from avi2mp4.pipeline import Progress
from avi2mp4.storage.s3 import (
    S3Store,
    SourceGone,
    SourceObject,
    delete_source,
    download_source,
    head_source,
    tag_source,
)
from handler import SERVICE, workdirs
from handler.clip_steps import hand_off
from handler.metrics import record_conversion, record_outcome
from handler.objects import ObjectRef, ObjectResult
from handler.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

logger = Logger(service=SERVICE, child=True)

REJECTED_TAG = "avi2mp4-rejected"
# The source, plus the clips not yet uploaded (at most split_after seconds of H.264, far smaller
# than the MJPEG or raw video that AVIs usually hold) and the JPEGs in flight.
SPACE_FACTOR = 1.5


class InsufficientStorage(StorageError):
    """/tmp cannot hold the source and its outputs: raise the function's EphemeralStorage."""


class TimeBudget:
    """Stops the conversion while there is still time to clean up: a 900 s kill skips ``finally``
    and would leave uploaded clips and JPEGs without a manifest."""

    def __init__(self, remaining_ms: Callable[[], int], reserve_seconds: float) -> None:
        self.remaining_ms, self.reserve = remaining_ms, reserve_seconds

    def check(self) -> None:
        left = self.remaining_ms() / 1000
        if left < self.reserve:
            raise TimeBudgetExceeded(
                f"the conversion needs more than this invocation's time (stopped with {left:.0f} s left to "
                "remove its outputs): give the function more memory (more CPU), or convert it with the CLI"
            )


def process_object(ref: ObjectRef, settings: Settings, s3: S3Client, budget: TimeBudget | None = None,
                   sfn: SFNClient | None = None, one_pass_because: str | None = None) -> ObjectResult:  # fmt: skip
    """The job for one object. Raises on any failure a retry may fix; the source is then kept.

    With a state machine (``sfn`` and ``settings.state_machine_arn``), a long recording that can be
    cut is handed to it; ``one_pass_because`` (the state machine's own fallback) skips that."""
    for stale in workdirs.sweep_stale(settings.tmp_dir):
        logger.info("removed a work folder a killed invocation left", extra={"path": str(stale)})
    try:
        src = head_source(s3, ref.bucket, ref.key)
    except SourceGone:
        logger.info("source is already gone: an earlier delivery converted it; nothing to do")
        return ObjectResult(ref.bucket, ref.key, status="gone")
    if ref.version_id and src.version_id != ref.version_id:
        # A newer upload replaced this version (it has its own event), or this one was deleted.
        logger.info("the event's version is no longer current; nothing to do")
        return ObjectResult(ref.bucket, ref.key, status="superseded")
    source = SourceRef(key=ref.key, size=src.size, bucket=ref.bucket, etag=src.etag, version_id=src.version_id)
    store = S3Store(s3, settings.video_bucket, settings.image_bucket)
    why = one_pass_because
    if sfn is not None and settings.state_machine_arn and why is None:
        try:
            handoff = hand_off(src, source, ref.identity, settings, s3, sfn)
        except NotRetryable as exc:
            return reject(source, src, exc, store, s3)
        if handoff.execution_arn is not None:
            record_outcome("handed_off")
            plan = handoff.plan
            return ObjectResult(ref.bucket, ref.key, status="handed_off", execution=handoff.execution_arn,
                                frames=plan.frames, duration_seconds=round(plan.duration_seconds, 3))  # fmt: skip
        why = handoff.plan.sequential_because
    require_space(settings.tmp_dir, src.size)
    conversion = {"path": "sequential", "why": why} if why else None
    work = workdirs.create(settings.tmp_dir)
    try:
        local = work / local_name(ref.key)
        download_source(s3, src, local)
        logger.info("downloaded source", extra={"bytes": src.size})
        stop = budget.check if budget is not None else None
        if stop is not None:
            stop()
        job = run_job(local, source, store, settings.pipeline, tmp_root=work, progress=ProgressLog(), stop=stop,
                      conversion=conversion)  # fmt: skip
        # Every output was verified inside run_job; only now may the source go.
        deleted = delete_source(s3, src)
        record_conversion(job, src.size)
    except NotRetryable as exc:
        return reject(source, src, exc, store, s3)
    finally:
        workdirs.remove(work)
    r = job.result
    return ObjectResult(
        bucket=ref.bucket,
        key=ref.key,
        status="converted",
        manifest=job.manifest_object.location,
        clips=[c.location for c in job.clips],
        jpegs=len(job.images),
        dead_frames=len(r.dead_frames),
        frames=r.frames_decoded,
        duration_seconds=round(r.duration_seconds, 3),
        decode_errors=r.decode_errors,
        source_deleted=deleted,
    )


def reject(source: SourceRef, src: SourceObject, exc: NotRetryable, store: S3Store, s3: S3Client) -> ObjectResult:
    """Bad input is not retried: the reason is recorded next to where the manifest would be, the
    source is kept and tagged, and the idempotency record answers duplicates."""
    reason = f"{type(exc).__name__}: {exc}"
    logger.warning(f"rejected, source kept: {reason}", extra={"error_type": type(exc).__name__})
    record_outcome("rejected")
    layout = OutputLayout.for_key(source.key)
    record = json.dumps({
        "source": asdict(source), "status": "rejected", "error": type(exc).__name__, "reason": str(exc),
        "rejected_at": datetime.now(UTC).isoformat(timespec="seconds"), "software": {"avi2mp4": __version__},
    }, indent=2, ensure_ascii=False).encode()  # fmt: skip
    stored = store.put_bytes("video", layout.rejection_key, record, hashlib.sha256(record).hexdigest(),
                             "application/json")  # fmt: skip
    try:
        tag_source(s3, src, {REJECTED_TAG: type(exc).__name__})
    except StorageError as tag_error:  # the record says it all; a missing tag is not worth a retry
        logger.warning(f"could not tag the rejected source: {tag_error}")
    return ObjectResult(source.bucket or "", source.key, status="rejected", manifest=stored.location, reason=reason)


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


def local_name(key: str) -> str:
    """The key's file name, if the file system can hold it (error messages name the file)."""
    name = PurePosixPath(key).name
    return name if 0 < len(name.encode()) <= 200 else "source.avi"


def require_space(tmp_dir: Path, size: int) -> None:
    free = shutil.disk_usage(tmp_dir).free
    if size * SPACE_FACTOR > free:
        raise InsufficientStorage(
            f"{tmp_dir} has {free / 1e6:.0f} MB free; a {size / 1e6:.0f} MB source needs about "
            f"{size * SPACE_FACTOR / 1e6:.0f} MB: raise the function's EphemeralStorage"
        )
