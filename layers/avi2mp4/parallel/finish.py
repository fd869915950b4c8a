"""Start and finish a clip-job conversion, and clean up after a failed one.

``start`` plans the recording and, when it is to be cut, claims its output names and stores the
plan. ``finish`` trusts nothing it did not check: every clip job's report is there, the clips'
frame ranges join into exactly ``0..frames-1``, and every clip and JPEG a report names is in the
store with its size and checksum. Only then is the manifest written (last); the clip jobs' reports
and the plan go, and so does anything an earlier run left under the prefix. Deleting the source is
the caller's decision, after ``finish`` returns. ``clean_up`` removes everything a failed
conversion wrote, keeps the source, and releases the claim.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import NotCuttable, VerificationError
from ..handover import DeadFrame, KeptFrame
from ..job import JobResult
from ..jpeg_sampler import is_near_duplicate
from ..labeling.review_sheet import Layout, mark
from ..media.clips import ClipFile
from ..media.probe import MediaSource
from ..media.timing import played_rate
from ..outputs import previous
from ..outputs.manifest import SourceRef, build_manifest
from ..outputs.names import OutputLayout
from ..pipeline import PipelineResult, header_mismatches
from ..settings import PipelineConfig
from ..storage.port import Store
from .clip_job import ClipReport, StoredFile, decode_change
from .plan import Plan, make_plan

log = logging.getLogger(__name__)

MAX_ERRORS_LISTED = 20
VERIFY_WORKERS = 64
"""HEADs in flight while finish verifies (an 8-hour recording: ~86,000 outputs; the function's
connection pool is as large)."""


def start(src: MediaSource, source: SourceRef, store: Store, cfg: PipelineConfig,
          now: Callable[[], float] = time.time) -> Plan:  # fmt: skip
    """Plan ``src``; a plan to cut is stored (``OutputLayout.plan_key``) under a claim on the names."""
    plan = make_plan(src, source, cfg)
    if plan.parallel:
        layout = OutputLayout.for_key(source.key)
        previous.claim(store, layout, source, now)  # raises OutputConflict before anything is written
        data = plan.to_json()
        store.put_bytes("video", layout.plan_key, data, hashlib.sha256(data).hexdigest(), "application/json")
    return plan


def load_plan(store: Store, source_key: str) -> Plan:
    layout = OutputLayout.for_key(source_key)
    data = store.get_bytes("video", layout.plan_key)
    if data is None:
        raise VerificationError(f"no plan at {layout.plan_key}: was the conversion cleaned up?")
    return Plan.from_json(data)


def finish(plan: Plan, store: Store, cfg: PipelineConfig, started: float | None = None) -> JobResult:
    """Verify every clip job's outputs, write the manifest, tidy the prefix (see the module doc)."""
    began = started if started is not None else time.monotonic()
    layout = OutputLayout.for_key(plan.source.key)
    reports = [_report(store, layout, span.index) for span in plan.clips]
    _check_ranges(plan, reports)
    thinned = _thin(reports, cfg.min_change)
    if thinned:  # before the manifest: the prefix never holds more than the manifest lists
        store.delete_many("image", sorted(j["key"] for r in reports for j in r.jpegs if j["frame_index"] in thinned))
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
    data = manifest.to_json()
    manifest_object = store.put_bytes("video", layout.manifest_key, data, hashlib.sha256(data).hexdigest(),
                                      "application/json")  # fmt: skip
    written = {("video", o.key) for o in [*clips.values(), *reviews]} | {("image", o.key) for o in images.values()}
    written.add(("video", layout.manifest_key))
    stale = [k for k in previous.owned_keys(store, layout) if (k.target, k.key) not in written]
    previous.remove(store, stale)  # the plan, the reports, what an earlier run left; the claim
    return JobResult(
        source=plan.source, result=result, manifest=manifest, manifest_object=manifest_object,
        clips=[clips[r.clip] for r in reports], images=[images[f.index] for f in result.jpegs],
        seconds=time.monotonic() - began,
    )  # fmt: skip


def clean_up(store: Store, source_key: str) -> None:
    """After a failure: remove every output the layout owns (no manifest stays), release the claim."""
    layout = OutputLayout.for_key(source_key)
    keys = previous.owned_keys(store, layout)
    keys.append(previous.OwnedKey("video", layout.manifest_key))
    previous.remove(store, keys)
    with contextlib.suppress(Exception):
        previous.release(store, layout)


def _report(store: Store, layout: OutputLayout, clip: int) -> ClipReport:
    data = store.get_bytes("video", layout.clip_report_key(clip))
    if data is None:
        raise VerificationError(f"clip job {clip} left no report ({layout.clip_report_key(clip)})")
    return ClipReport.from_json(data)


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
    expected = 0
    for report in reports:
        if report.first_frame != expected or report.last_frame < report.first_frame:
            raise NotCuttable(f"clip {report.clip} holds frames {report.first_frame}..{report.last_frame}, "
                              f"but frame {expected} was next: the clips do not join up")  # fmt: skip
        expected = report.last_frame + 1
    if expected != plan.frames:
        raise NotCuttable(f"the clips hold {expected} frames; the index promises {plan.frames}")


def _result(plan: Plan, reports: list[ClipReport]) -> PipelineResult:
    facts = plan.facts
    steps: collections.Counter[int] = collections.Counter()
    for report in reports:
        steps.update({int(k): v for k, v in report.steps.items()})
    ticks, fps = played_rate(steps, facts.time_base, facts.fps)  # as the single pass computes it
    last = reports[-1]
    frames = last.last_frame + 1
    duration = float((last.last_pts + ticks) * facts.time_base)
    audio_seconds = last.audio_end / plan.audio_rate if last.audio_end is not None and plan.audio_rate else None
    messages = [m for r in reports for m in r.error_messages][:MAX_ERRORS_LISTED]
    return PipelineResult(
        facts=facts, fps=fps, frames_decoded=frames, duration_seconds=duration,
        clips=[ClipFile(r.clip, Path(r.video.key), r.first_frame, r.last_frame, r.start_seconds,
                        r.duration_seconds, split=True) for r in reports],
        jpegs=[KeptFrame(j["frame_index"], j["pts_seconds"], j["sharpness"]) for r in reports for j in r.jpegs],
        dead_frames=[DeadFrame(d["frame_index"], d["reason"]) for r in reports for d in r.dead_frames],
        decode_errors=sum(r.decode_errors for r in reports), error_messages=messages,
        warnings=plan.warnings + header_mismatches(facts, frames, duration, audio_seconds),
    )  # fmt: skip
