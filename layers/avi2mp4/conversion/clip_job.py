"""A clip job: one clip of a plan converted and stored, with a small report for finish.

A pure function of (plan, clip number) plus storage: a re-run writes the same keys. The clip is
converted by the one decode driver (``pipeline.run_pass``) over the clip's span, from the keyframe
the plan names, so names, ranges and verdicts equal the one pass's. It never writes the manifest and
never touches the source. On failure it removes what it stored itself (the clip, its JPEGs, its
report) and leaves its neighbours' outputs alone: the clean-up removes the rest.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NotCuttable
from ..handover import KeptFrame
from ..media.passthrough import CopyNotPossible
from ..media.probe import MediaSource
from ..outputs.names import OutputLayout
from ..pipeline import Span, StopCheck, run_pass
from ..settings import PipelineConfig
from ..storage.port import Store, StoredObject
from .plan import Plan
from .storing import StoredOutputs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ClipReport:
    """What one clip job stored and saw (JSON in the store, read by finish, which checks it against
    the plan and the names the plan's source derives before it believes any of it)."""

    clip: int
    first_frame: int
    last_frame: int
    start_seconds: float
    duration_seconds: float
    video: StoredFile
    jpegs: list[dict[str, Any]] = field(default_factory=list)
    """``{"frame_index", "pts_seconds", "sharpness", "key", "size", "sha256"}`` per kept JPEG (and
    ``"change"``, its coarse picture, when near-duplicates are thinned)."""
    dead_frames: list[dict[str, Any]] = field(default_factory=list)
    decode_errors: int = 0
    error_messages: list[str] = field(default_factory=list)
    steps: dict[str, int] = field(default_factory=dict)
    last_pts: int = 0
    audio_end: int | None = None
    review: StoredFile | None = None
    """The clip's review sheet page (``OutputLayout.review_key(clip, True)``), if sheets are on."""

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ClipReport:
        data = json.loads(raw)
        data["video"] = StoredFile(**data["video"])
        data["review"] = StoredFile(**data["review"]) if data.get("review") else None
        return cls(**data)


def run_clip(src: MediaSource, plan: Plan, clip: int, store: Store, cfg: PipelineConfig, *,
             tmp_root: Path | None = None, stop: StopCheck | None = None) -> ClipReport:  # fmt: skip
    """Convert clip ``clip`` of ``plan`` from ``src`` and store its outputs and its report."""
    layout = OutputLayout.for_key(plan.source.key)
    span = plan.clip(clip)
    with StoredOutputs(store, layout, cfg.verify_clips, tmp_root, "avi2mp4-clip-") as outputs:
        try:
            setup = plan.setup
            frames = (span.first_frame, span.last_frame) if setup is not None and setup.copy.copy else None
            try:
                r = run_pass(src, plan.source.key, outputs.work, cfg, Span(span.index, span.judge_from,
                             plan.seek_point(span), setup, frames), on_output=outputs.hand_over, stop=stop,
                             expected_facts=plan.facts)  # fmt: skip
            except CopyNotPossible as exc:  # every clip copies or none does: the run goes one pass
                raise NotCuttable(f"clip {clip} cannot be copied: {exc}") from exc
            (made,) = r.clips
            stored, images = outputs.stored("clip")[made.index], outputs.stored("jpeg")
            report = ClipReport(
                clip=clip, first_frame=made.first_frame, last_frame=made.last_frame,
                start_seconds=made.start_seconds, duration_seconds=made.duration_seconds,
                video=StoredFile(stored.key, stored.size, stored.sha256),
                review=_file(outputs.stored("review").get(clip)),
                jpegs=[_jpeg_row(j, images[j.index]) for j in r.jpegs],
                dead_frames=[{"frame_index": d.index, "reason": d.reason} for d in r.dead_frames],
                decode_errors=r.decode_errors, error_messages=r.error_messages,
                steps={str(k): v for k, v in r.steps.items()}, last_pts=r.last_pts, audio_end=r.audio_end,
            )  # fmt: skip
            outputs.put_json(layout.clip_report_key(clip), report.to_json())
        except BaseException:
            outputs.undo()  # the state machine's catch (or the local runner) removes the rest
            raise
    log.info("clip %d of %s: frames %d..%d, %d JPEGs", clip, plan.source.key, report.first_frame,
             report.last_frame, len(report.jpegs))  # fmt: skip
    return report


def _file(stored: StoredObject | None) -> StoredFile | None:
    return StoredFile(stored.key, stored.size, stored.sha256) if stored is not None else None


def _jpeg_row(kept: KeptFrame, stored: StoredObject) -> dict[str, Any]:
    row = {"frame_index": kept.index, "pts_seconds": kept.pts_seconds, "sharpness": kept.sharpness,
           "key": stored.key, "size": stored.size, "sha256": stored.sha256, "pixels_md5": kept.pixels_md5}  # fmt: skip
    if kept.change is not None:  # finish thins near-duplicates across clips (--min-change)
        row["change"] = encode_change(kept.change)
    return row


def encode_change(change: np.ndarray) -> dict[str, Any]:
    return {"shape": list(change.shape), "bytes": base64.b64encode(change.tobytes()).decode()}


def decode_change(data: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(data["bytes"]), dtype=np.uint8).reshape(data["shape"])
