"""The one owner of a source's conversion, whatever runs it.

``Conversion.run`` is the start (an S3 event, a Batch Operations task, a file given to the CLI):
it looks the source up, plans it when clip jobs can run (reading only its header and index), and
either converts it in one pass or starts its clip jobs. The clip-job path's steps are methods too
(``run_clip``, ``finish``, ``fail``, ``fall_back``), so the process pool and the Step Functions tasks
run the same code. Whatever the path, a failure ends the same way: what was written is removed, the
source is kept, then the recording falls back to one pass (it cannot be cut), is rejected (a retry
cannot help: the reason is recorded) or the error propagates (a retry may help). Each outcome is
told to the observer once, where it happened.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import time
from typing import Any

from ..errors import (
    Avi2Mp4Error,
    ForeignRun,
    IncompleteRun,
    NameTooLong,
    NotCuttable,
    NotRetryable,
    SourceGone,
    StorageError,
    Superseded,
    by_name,
)
from ..handover import DeadFrame
from ..outputs.names import OutputLayout
from ..outputs.rejection import rejection_record
from ..settings import PipelineConfig
from ..storage.port import SourceRef, Store, StoredObject
from . import finish as steps
from .clip_job import ClipReport, run_clip
from .finish import Failure
from .one_pass import JobResult, run_job
from .outcome import Converted, Failed, FallBack, HandedOff, Outcome, Path_, Rejected, Skipped
from .plan import Plan, make_plan
from .ports import Runtime, SourceAccess

log = logging.getLogger(__name__)


class Conversion:
    """The conversion of the source ``source``. ``identity``: what the request that started it is
    known by (the function's idempotency key), carried by a clip-job run's plan to its end."""

    def __init__(self, source: SourceAccess, cfg: PipelineConfig, rt: Runtime, identity: str = "") -> None:
        self.source, self.cfg, self.rt, self.identity = source, cfg, rt, identity
        self.now = rt.now or time.time

    # ---- the start ------------------------------------------------------------------------------
    def run(self) -> Outcome:
        """Convert the source as it is now: in one pass, or as clip jobs (a long recording, when a
        clip runner is given). Raises what a retry may fix, after cleaning up."""
        try:
            ref = self.source.current()
        except (SourceGone, Superseded) as exc:
            return self._observed(Skipped("gone" if isinstance(exc, SourceGone) else "superseded", str(exc)))
        try:
            self._check_names(ref)
            plan = self._plan(ref) if self.rt.clips is not None else None
            if plan is not None and plan.parallel:
                return self._clip_jobs(plan)
            why = plan.sequential_because if plan is not None else None
            return self.one_pass(ref, why)
        except NotRetryable as exc:
            return self.reject(ref, exc)

    def one_pass(self, ref: SourceRef, why: str | None = None) -> Outcome:
        """Convert the whole file in one decode pass (``why``: a long recording that is not cut)."""
        conversion = {"path": "sequential", "why": why} if why else None
        with self.source.fetch(ref, self.rt.work) as local:
            if self.rt.stop is not None:
                self.rt.stop()
            job = run_job(local, ref, self.rt.store, self.cfg, tmp_root=self.rt.work, progress=self.rt.progress,
                          stop=self.rt.stop, conversion=conversion)  # fmt: skip
        deleted = self.source.delete_converted(ref)  # every output was verified inside run_job
        return self._observed(converted(job, "sequential" if why else "single", deleted, self.rt.store))

    def _check_names(self, ref: SourceRef) -> None:
        """NameTooLong before any work: S3 would refuse the first output (a retry would too)."""
        store = self.rt.store
        problem = OutputLayout.for_key(ref.key).too_long(store.max_key_bytes, store.max_name_bytes)
        if problem is not None:
            raise NameTooLong(f"{self.source.name}: {problem}: shorten its name")

    def _plan(self, ref: SourceRef) -> Plan:
        with self.source.ranges() as reader:
            plan = make_plan(reader, ref, self.cfg, name=self.source.name)
        log.info("planned %s: %d clip jobs, %d frames%s", self.source.name, len(plan.clips), plan.frames,
                 f"; one pass: {plan.sequential_because}" if plan.sequential_because else "")  # fmt: skip
        return plan

    def _clip_jobs(self, plan: Plan) -> Outcome:
        assert self.rt.clips is not None
        plan = dataclasses.replace(plan, run_id=self.rt.clips.run_id(self.identity), identity=self.identity,
                                   planned_at=self.now())  # fmt: skip
        steps.start(plan, self.rt.store, self.now)  # OutputConflict before anything is written
        try:
            run = self.rt.clips.run(plan)
            if run is not None:
                return self._observed(HandedOff(plan, run))
            return self.finish(plan)
        except Exception as exc:
            outcome = self._settle(plan, [Failure.of(exc)])
            if isinstance(outcome, FallBack):
                return self.one_pass(plan.source, outcome.why)
            if isinstance(outcome, Failed):
                raise
            return outcome
        except BaseException:  # a signal: remove what the run wrote, then go
            with contextlib.suppress(Exception):
                steps.clean_up(self.rt.store, plan)
            raise

    # ---- the clip-job path's steps --------------------------------------------------------------
    def run_clip(self, plan: Plan, clip: int) -> ClipReport:
        """One clip job of ``plan`` (read by ranges from exactly the planned version). A failure is
        recorded for the clean-up (a Distributed Map hands it no item's error)."""
        try:
            with self.source.ranges(readahead=True) as reader:
                return run_clip(reader, plan, clip, self.rt.store, plan.config, tmp_root=self.rt.work,
                                stop=self.rt.stop)  # fmt: skip
        except Exception as exc:
            with contextlib.suppress(Exception):  # the error itself says more than a failed record
                steps.record_failure(self.rt.store, plan, clip, Failure.of(exc))
            raise

    def finish(self, plan: Plan) -> Outcome:
        """Verify the clip jobs' outputs and write the manifest; then delete the source and tidy."""
        try:
            done = steps.finish(plan, self.rt.store, plan.config, self.now)
        except Exception as exc:
            with contextlib.suppress(Exception):
                steps.record_failure(self.rt.store, plan, None, Failure.of(exc))
            raise
        deleted = self.source.delete_converted(plan.source)
        steps.tidy(self.rt.store, plan, done.keep)
        return self._observed(converted(done.job, "parallel", deleted, self.rt.store))

    def fail(self, plan: Plan, failures: list[Failure]) -> Outcome:
        """A run that failed (``failures``: what its steps said): what it wrote goes, the source
        stays. Then a FallBack to one pass (the recording cannot be cut), a Rejected (a retry cannot
        help) or a Failed (a retry may). A set found complete is finished instead."""
        outcome = self._settle(plan, failures)
        if isinstance(outcome, Failed):
            self._observed(outcome)
        return outcome

    def _settle(self, plan: Plan, failures: list[Failure]) -> Outcome:
        """``fail``, leaving a Failed unobserved (in this process it propagates as the error)."""
        failure = _deciding(failures)
        fall_back = by_name(failure.error) is NotCuttable
        state = steps.clean_up(self.rt.store, plan, keep_run=fall_back)
        if state == "complete":
            log.warning("%s: the run failed after its manifest was written; its set is complete", self.source.name)
            return self._observed(self._completed(plan))
        if state == "foreign":
            return Failed(plan.source, ForeignRun.__name__, f"another run holds the names now; this run's "
                          f"failure was {failure.error}: {failure.reason}")  # fmt: skip
        if fall_back:
            log.warning("%s cannot be cut exactly (%s); converting it in one pass", self.source.name, failure.reason)
            return FallBack(plan.source, failure.reason)
        error = by_name(failure.error)
        if error is not None and not error.retryable and error is not IncompleteRun:
            return self.reject(plan.source, failure)
        return Failed(plan.source, failure.error, failure.reason)

    def fall_back(self, plan: Plan) -> Outcome:
        """The one pass a run fell back to (its plan kept by the clean-up), as a task of the run."""
        try:
            ref = self.source.current()
        except (SourceGone, Superseded) as exc:
            steps.clean_up(self.rt.store, plan)
            return self._observed(Skipped("gone" if isinstance(exc, SourceGone) else "superseded", str(exc)))
        if ref != plan.source:
            steps.clean_up(self.rt.store, plan)
            return self._observed(Skipped("superseded", f"{self.source.name} changed since it was planned"))
        why = next((f.reason for f in steps.recorded_failures(self.rt.store, plan)
                    if by_name(f.error) is NotCuttable), "it cannot be cut exactly")  # fmt: skip
        try:
            return self.one_pass(ref, why)
        except NotRetryable as exc:
            return self.reject(ref, exc)

    # ---- outcomes -------------------------------------------------------------------------------
    def reject(self, ref: SourceRef, exc: Avi2Mp4Error | Failure) -> Outcome:
        """Bad input, or what a retry cannot fix: the source is kept; in a bucket the reason is
        recorded next to where the manifest would be and the source is tagged."""
        failure = exc if isinstance(exc, Failure) else Failure.of(exc)
        log.info("rejected %s, source kept: %s: %s", self.source.name, failure.error, failure.reason)
        record = None
        if self.rt.record_rejections:
            key = OutputLayout.for_key(ref.key).rejection_key
            if len(key.encode()) <= self.rt.store.max_key_bytes:  # else the tag alone says it
                data = rejection_record(ref, failure.error, failure.reason)
                record = self.rt.store.put_bytes("video", key, data, hashlib.sha256(data).hexdigest(),
                                                 "application/json")  # fmt: skip
            try:
                self.source.tag_rejected(ref, failure.error)
            except StorageError as tag_error:  # the record says it all; a missing tag is not worth a retry
                log.warning("could not tag the rejected source %s: %s", self.source.name, tag_error)
        return self._observed(Rejected(ref, failure.error, failure.reason, record))

    def _completed(self, plan: Plan) -> Converted:
        """A run whose set turned out complete (its manifest is there): the source may go."""
        manifest = steps.manifest_of(self.rt.store, plan)
        deleted = self.source.delete_converted(plan.source)
        seconds = max(0.0, self.now() - plan.planned_at)
        return converted_from_manifest(plan.source, manifest, deleted, seconds, self.rt.store)

    def _observed(self, outcome: Outcome) -> Outcome:
        self.rt.observer.outcome(outcome)
        return outcome


def _deciding(failures: list[Failure]) -> Failure:
    """The failure that decides what follows: a recording that cannot be cut falls back, whatever
    else failed; then one a retry cannot fix; then any. A run found incomplete (a clip job left no
    report) is a consequence of a clip job's failure: that failure decides; alone, the run failed."""
    if not failures:
        return Failure("Unknown", "a step failed without saying why")
    failures = [f for f in failures if by_name(f.error) is not IncompleteRun] or failures
    classes = [by_name(f.error) for f in failures]
    for failure, cls in zip(failures, classes, strict=True):
        if cls is NotCuttable:
            return failure
    for failure, cls in zip(failures, classes, strict=True):
        if cls is not None and not cls.retryable:
            return failure
    return failures[0]


def converted(job: JobResult, path: Path_, deleted: bool, store: Store) -> Converted:
    r = job.result
    return Converted(
        source=job.source, manifest=job.manifest_object, clips=job.clips, images=job.images,
        frames=r.frames_decoded, duration_seconds=r.duration_seconds, decode_errors=r.decode_errors,
        dead_frames=r.dead_frames, seconds=job.seconds, path=path, source_deleted=deleted, job=job,
        reviews=[_stored(row) for row in job.manifest.review_sheets],
        jpeg_folder=store.location("image", OutputLayout.for_key(job.source.key).image_folder),
    )  # fmt: skip


def converted_from_manifest(source: SourceRef, manifest: dict[str, Any], deleted: bool, seconds: float,
                            store: Store) -> Converted:  # fmt: skip
    """The outcome of a set a clean-up found complete, from its manifest."""
    about = manifest["source"]
    layout = OutputLayout.for_key(source.key)
    manifest_key = layout.manifest_key
    return Converted(
        source=source, manifest=StoredObject(manifest_key, 0, "", store.location("video", manifest_key)),
        clips=[_stored(c) for c in manifest["clips"]], images=[_stored(f) for f in manifest["frames"]],
        frames=about["frames_decoded"], duration_seconds=about["duration_seconds"],
        decode_errors=manifest["decode_errors"]["count"],
        dead_frames=[DeadFrame(d["frame_index"], d["reason"]) for d in manifest["dead_frames"]],
        seconds=seconds, path="parallel", source_deleted=deleted,
        reviews=[_stored(row) for row in manifest.get("review_sheets", [])],
        jpeg_folder=store.location("image", layout.image_folder),
    )  # fmt: skip


def _stored(row: dict[str, Any]) -> StoredObject:
    return StoredObject(row["key"], row["bytes"], row["sha256"], row["location"])
