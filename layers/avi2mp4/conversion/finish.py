"""Start and finish a clip-job conversion, and clean up after a failed one.

``start`` claims the output names for the plan's run and stores the plan. A task of the run
(``plan_for``) is checked against the stored plan: bucket, key, version and run must match it, or
nothing is touched (``ForeignRun``). ``finish`` trusts nothing it did not check: every clip job's
report is there and names exactly the keys the plan's source derives, within the plan's frame
ranges; the ranges join into exactly ``0..frames-1``; every clip and JPEG is in the store with its
size and checksum. Only then is the manifest written (last); the reports, the plan and anything an
earlier run left under the prefix go. ``clean_up`` removes what a failed run wrote while its claim
holds the names, and never undoes a complete set (the manifest of exactly this source version).
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import ForeignRun, IncompleteRun, NotCuttable, VerificationError
from ..handover import DeadFrame, KeptFrame
from ..jpeg_sampler import is_near_duplicate
from ..labeling.review_sheet import Layout, mark
from ..media.clips import ClipFile
from ..media.timing import played_rate
from ..outputs import previous
from ..outputs.labeling_tools import store_labeling_files
from ..outputs.manifest import build_manifest
from ..outputs.names import OutputLayout
from ..pipeline import PipelineResult, header_mismatches, picture_end
from ..settings import PipelineConfig
from ..storage.port import Store, StoredObject
from .clip_job import ClipReport, StoredFile, decode_change
from .one_pass import JobResult
from .plan import SEEK_MARGIN_FRAMES, Plan

log = logging.getLogger(__name__)

MAX_ERRORS_LISTED = 20
VERIFY_WORKERS = 64
"""HEADs in flight while finish verifies (an 8-hour recording: ~86,000 outputs; the function's
connection pool is as large)."""
RUN_CLAIM_SECONDS = 24 * 3600.0
"""A clip-job run holds its names this long at most: its clip jobs may queue for hours behind the
concurrency limits, and its clean-up releases them when it fails."""


@dataclass(frozen=True)
class RunRequest:
    """What a task of a run was asked to act on (its input: to be checked, never believed)."""

    bucket: str | None
    key: str
    version_id: str | None
    run_id: str


@dataclass(frozen=True)
class Failure:
    """Why a step failed: the error's class name (in ``errors``' tree, or not) and its message."""

    error: str
    reason: str

    @classmethod
    def of(cls, exc: BaseException) -> Failure:
        return cls(type(exc).__name__, str(exc) or type(exc).__name__)


def start(plan: Plan, store: Store, now: Callable[[], float] = time.time) -> None:
    """Claim the names for the plan's run (OutputConflict before anything is written), then store
    the plan its tasks will be held to."""
    layout = OutputLayout.for_key(plan.source.key)
    previous.claim(store, layout, plan.source, now, run=plan.run_id, hold_seconds=RUN_CLAIM_SECONDS)
    data = plan.to_json()
    store.put_bytes("video", layout.plan_key, data, hashlib.sha256(data).hexdigest(), "application/json")


def plan_for(store: Store, request: RunRequest) -> Plan:
    """The stored plan of the run ``request`` names. ForeignRun unless it names this recording, this
    version and this run: a forged or stale task then touches nothing."""
    layout = OutputLayout.for_key(request.key)
    data = store.get_bytes("video", layout.plan_key)
    if data is None:
        raise ForeignRun(f"no plan at {layout.plan_key}: the run ended (finished or cleaned up), or never began")
    try:
        plan = Plan.from_json(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise VerificationError(f"the plan at {layout.plan_key} cannot be read: {exc}") from exc
    asked = (request.bucket, request.key, request.version_id, request.run_id)
    planned = (plan.source.bucket, plan.source.key, plan.source.version_id, plan.run_id)
    if asked != planned:
        raise ForeignRun(f"the task names {_described(*asked)}; the plan at {layout.plan_key} is for "
                         f"{_described(*planned)}")  # fmt: skip
    return plan


def _described(bucket: str | None, key: str, version: str | None, run: str) -> str:
    return f"{bucket}/{key} version {version or '-'} run {run or '-'}"


def record_failure(store: Store, plan: Plan, step: int | None, failure: Failure) -> None:
    """Leave why a clip job or finish failed for good, for the clean-up to act on."""
    key = OutputLayout.for_key(plan.source.key).failure_key(step)
    data = json.dumps({"error": failure.error, "reason": failure.reason[:2000]}).encode()
    store.put_bytes("video", key, data, hashlib.sha256(data).hexdigest(), "application/json")


def recorded_failures(store: Store, plan: Plan) -> list[Failure]:
    """What the run's steps left (see ``record_failure``); unreadable ones say so."""
    layout = OutputLayout.for_key(plan.source.key)
    steps: list[int | None] = [span.index for span in plan.clips]
    found = []
    for step in [*steps, None]:
        data = store.get_bytes("video", layout.failure_key(step))
        if data is None:
            continue
        try:
            record = json.loads(data)
            found.append(Failure(str(record["error"]), str(record["reason"])))
        except (ValueError, KeyError, TypeError):
            found.append(Failure("VerificationError", f"{layout.failure_key(step)} cannot be read"))
    return found


@dataclass(frozen=True)
class Finished:
    """A run whose manifest is written: ``keep`` are the keys it lists (and the manifest's own)."""

    job: JobResult
    keep: frozenset[tuple[str, str]]


def finish(plan: Plan, store: Store, cfg: PipelineConfig, now: Callable[[], float] = time.time) -> Finished:
    """Verify every clip job's outputs and write the manifest (see the module doc). What follows the
    manifest only completes the set: the source's deletion, then ``tidy``."""
    layout = OutputLayout.for_key(plan.source.key)
    holder = previous.holder_of(store, layout)
    if holder is None or holder.run != plan.run_id:
        raise ForeignRun(f"{layout.claim_key} is not held by run {plan.run_id}: its names are not this run's")
    reports = [_checked(layout, cfg, span.index, _report(store, layout, span.index)) for span in plan.clips]
    _check_ranges(plan, reports)
    thinned = _thin(reports, cfg.min_change)
    if thinned:  # before the manifest: the prefix never holds more than the manifest lists
        store.delete_many("image", sorted(layout.jpeg_key(i) for i in thinned))
        reports = [_mark_review(store, plan, r, thinned) for r in reports]
    reports = [_without(r, thinned) for r in reports]
    # An 8-hour recording has ~29,000 JPEGs: their checks (a HEAD each in S3) overlap.
    with ThreadPoolExecutor(max_workers=VERIFY_WORKERS, thread_name_prefix="avi2mp4-verify") as pool:
        clip_checks = {r.clip: pool.submit(store.verify, "video", r.video.key, r.video.size, r.video.sha256)
                       for r in reports}  # fmt: skip
        image_checks = {j["frame_index"]: pool.submit(store.verify, "image", j["key"], j["size"], j["sha256"])
                        for r in reports for j in r.jpegs}  # fmt: skip
        review_checks = [pool.submit(store.verify, "video", r.review.key, r.review.size, r.review.sha256)
                         for r in reports if r.review is not None]  # fmt: skip
        clips = {clip: check.result() for clip, check in clip_checks.items()}
        images = {index: check.result() for index, check in image_checks.items()}
        reviews = [check.result() for check in review_checks]
    result = _result(plan, reports)
    manifest = build_manifest(plan.source, result, clips, images, cfg,
                              {"path": "parallel", "clip_jobs": len(reports)}, reviews)  # fmt: skip
    labeling: list[str] = []

    def put_labeling(key: str, data: bytes) -> StoredObject:
        labeling.append(key)
        return store.put_bytes("image", key, data, hashlib.sha256(data).hexdigest(), "application/json")

    store_labeling_files(put_labeling, layout, manifest)
    data = manifest.to_json()
    manifest_object = store.put_bytes("video", layout.manifest_key, data, hashlib.sha256(data).hexdigest(),
                                      "application/json")  # fmt: skip
    keep = {("video", o.key) for o in [*clips.values(), *reviews]} | {("image", o.key) for o in images.values()}
    keep.add(("video", layout.manifest_key))
    keep.update(("image", key) for key in labeling)
    job = JobResult(
        source=plan.source, result=result, manifest=manifest, manifest_object=manifest_object,
        clips=[clips[r.clip] for r in reports], images=[images[f.index] for f in result.jpegs],
        seconds=max(0.0, now() - plan.planned_at),
    )  # fmt: skip
    return Finished(job, frozenset(keep))


def tidy(store: Store, plan: Plan, keep: frozenset[tuple[str, str]]) -> None:
    """After the manifest: remove what the prefix holds beyond it (the plan, the reports, what an
    earlier run left) and, with it, the claim."""
    layout = OutputLayout.for_key(plan.source.key)
    previous.remove(store, [k for k in previous.owned_keys(store, layout) if (k.target, k.key) not in keep])


CleanUp = Literal["removed", "complete", "foreign"]


def clean_up(store: Store, plan: Plan, keep_run: bool = False) -> CleanUp:
    """After a failure: remove what this run wrote under its names (no manifest stays) and release
    its claim; ``keep_run``: keep the claim and the work objects (the plan, what the steps said: a
    fall-back to one pass follows, as a task of this run). ``complete``: the manifest of exactly this
    source version is there, so the set is whole and stays (only the run's work objects go).
    ``foreign``: another run holds the names (or none does): nothing is removed."""
    layout = OutputLayout.for_key(plan.source.key)
    work = layout.work_key("")
    if previous.completed_by(store, layout, plan.source):
        previous.remove(store, [k for k in previous.owned_keys(store, layout) if k.key.startswith(work)])
        previous.release(store, layout, plan.run_id)
        return "complete"
    holder = previous.holder_of(store, layout)
    if holder is None or holder.run != plan.run_id:
        return "foreign"
    keys = [*previous.owned_keys(store, layout), previous.OwnedKey("video", layout.manifest_key)]
    kept = [k for k in keys if k.key == layout.claim_key or (keep_run and k.key.startswith(work))]
    previous.remove(store, [k for k in keys if k not in kept])
    if not keep_run:
        previous.release(store, layout, plan.run_id)
    return "removed"


def manifest_of(store: Store, plan: Plan) -> dict[str, Any]:
    """The manifest of a complete set (``clean_up`` said ``complete``)."""
    data = store.get_bytes("video", OutputLayout.for_key(plan.source.key).manifest_key)
    manifest: dict[str, Any] = json.loads(data or b"{}")
    return manifest


def _report(store: Store, layout: OutputLayout, clip: int) -> ClipReport:
    data = store.get_bytes("video", layout.clip_report_key(clip))
    if data is None:
        raise IncompleteRun(f"clip job {clip} left no report ({layout.clip_report_key(clip)})")
    try:
        return ClipReport.from_json(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise VerificationError(f"the report of clip job {clip} cannot be read: {exc}") from exc


def _checked(layout: OutputLayout, cfg: PipelineConfig, clip: int, report: ClipReport) -> ClipReport:
    """The report of clip ``clip``, if it names only what the plan's source derives: its clip, its
    review page and JPEGs of sampled frames within its own frames (VerificationError otherwise)."""
    first, last = report.first_frame, report.last_frame
    problems = [
        f"it says it is clip {report.clip}" if report.clip != clip else "",
        f"its clip is {report.video.key}" if report.video.key != layout.clip_key(clip, True) else "",
        f"its review page is {report.review.key}"
        if report.review is not None and report.review.key != layout.review_key(clip, True) else "",
    ]  # fmt: skip
    for row in report.jpegs:
        index = row["frame_index"]
        if not isinstance(index, int) or row["key"] != layout.jpeg_key(index):
            problems.append(f"a JPEG is named {row['key']}")
        elif not first <= index <= last or index % cfg.frame_step:
            problems.append(f"frame {index} is not a sampled frame of the clip")
        elif not re.fullmatch(r"[0-9a-f]{32}", str(row.get("pixels_md5"))):
            problems.append(f"the pixel checksum of frame {index} is not an MD5")
    for row in report.dead_frames:
        if not isinstance(row["frame_index"], int) or not first <= row["frame_index"] <= last:
            problems.append(f"dead frame {row['frame_index']} is not a frame of the clip")
    found = [p for p in problems if p]
    if found:
        raise VerificationError(f"the report of clip job {clip} does not match the plan: {found[0]}")
    return report


def _thin(reports: list[ClipReport], min_change: float) -> set[int]:
    """``--min-change`` across clips: a clip job cannot know the last JPEG kept before its clip, so
    near-duplicates are decided here, in order, from each kept JPEG's coarse picture (the rule one
    pass applies as it goes)."""
    if min_change <= 0:
        return set()
    thinned: set[int] = set()
    last = None
    for row in (j for r in reports for j in r.jpegs):
        change = decode_change(row["change"])
        if last is not None and is_near_duplicate(change, last, min_change):
            thinned.add(row["frame_index"])
        else:
            last = change
    return thinned


def _mark_review(store: Store, plan: Plan, report: ClipReport, thinned: set[int]) -> ClipReport:
    """Dim the thinned frames on the clip's review page too (it was drawn before finish decided)."""
    marked = {j["frame_index"] for j in report.jpegs} & thinned
    if report.review is None or not marked:
        return report
    sampled = sorted([j["frame_index"] for j in report.jpegs] + [d["frame_index"] for d in report.dead_frames])
    page = store.get_bytes("video", report.review.key)
    if page is None:
        raise VerificationError(f"clip job {report.clip}'s review sheet {report.review.key} is missing")
    layout = Layout.for_frame(plan.facts.width, plan.facts.height).for_tiles(len(sampled))
    data = mark(page, layout, {sampled.index(i): "near_duplicate" for i in marked})
    stored = store.put_bytes("video", report.review.key, data, hashlib.sha256(data).hexdigest(), "image/jpeg")
    return dataclasses.replace(report, review=StoredFile(stored.key, stored.size, stored.sha256))


def _without(report: ClipReport, thinned: set[int]) -> ClipReport:
    if not thinned:
        return report
    kept = [j for j in report.jpegs if j["frame_index"] not in thinned]
    dead = report.dead_frames + [{"frame_index": j["frame_index"], "reason": "near_duplicate"}
                                 for j in report.jpegs if j["frame_index"] in thinned]  # fmt: skip
    return dataclasses.replace(report, jpegs=kept, dead_frames=sorted(dead, key=lambda d: d["frame_index"]))


def _check_ranges(plan: Plan, reports: list[ClipReport]) -> None:
    """The clips' frames join into ``0..frames-1``, each where the index put it (give or take the
    reordering of B-frames). Otherwise the index cannot number this recording (packets that did not
    decode, a forged range): NotCuttable, and one pass converts it."""
    expected = 0
    for report in reports:
        if report.first_frame != expected or report.last_frame < report.first_frame:
            raise NotCuttable(f"clip {report.clip} holds frames {report.first_frame}..{report.last_frame}, "
                              f"but frame {expected} was next: the clips do not join up")  # fmt: skip
        expected = report.last_frame + 1
    if expected != plan.frames:
        raise NotCuttable(f"the clips hold {expected} frames; the index promises {plan.frames}")
    for report in reports:
        span = plan.clip(report.clip)
        if (
            max(abs(report.first_frame - span.first_frame), abs(report.last_frame - span.last_frame))
            > SEEK_MARGIN_FRAMES
        ):
            raise NotCuttable(f"clip {report.clip} holds frames {report.first_frame}..{report.last_frame}; the "
                              f"index put {span.first_frame}..{span.last_frame} there")  # fmt: skip


def _result(plan: Plan, reports: list[ClipReport]) -> PipelineResult:
    facts = plan.facts
    steps: collections.Counter[int] = collections.Counter()
    for report in reports:
        steps.update({int(k): v for k, v in report.steps.items()})
    fps = played_rate(steps, facts.time_base, facts.fps)[1]  # as the one pass computes it
    last = reports[-1]
    frames = last.last_frame + 1
    clips = [ClipFile(r.clip, Path(r.video.key), r.first_frame, r.last_frame, r.start_seconds, r.duration_seconds,
                      split=True) for r in reports]  # fmt: skip
    duration = picture_end(clips)
    audio_seconds = last.audio_end / plan.audio_rate if last.audio_end is not None and plan.audio_rate else None
    messages = [m for r in reports for m in r.error_messages][:MAX_ERRORS_LISTED]
    return PipelineResult(
        facts=facts, fps=fps, frames_decoded=frames, duration_seconds=duration,
        clips=clips,
        jpegs=[KeptFrame(j["frame_index"], j["pts_seconds"], j["sharpness"], pixels_md5=j["pixels_md5"])
               for r in reports for j in r.jpegs],
        dead_frames=[DeadFrame(d["frame_index"], d["reason"]) for r in reports for d in r.dead_frames],
        decode_errors=sum(r.decode_errors for r in reports), error_messages=messages,
        warnings=plan.warnings + header_mismatches(facts, frames, duration, audio_seconds), setup=plan.setup,
    )  # fmt: skip
