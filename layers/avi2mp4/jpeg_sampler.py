"""Which sampled frames become JPEGs: the judge's verdicts, then the opt-in choices (sharpness,
near-duplicates), the JPEG written and handed over, and every sampled frame on the review sheet."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
from av.video.frame import VideoFrame

from .handover import DeadFrame, KeptFrame, OutputHandler, describe_file
from .labeling.detector import Verdict, make_judge
from .labeling.jpeg import is_sampled, jpeg_pixels
from .labeling.jpeg_writer import JpegWriter
from .labeling.judgements import change_thumbnail, frame_difference, sharpness
from .labeling.review_sheet import ReviewPages
from .labeling.thumbnail import luma_thumbnail
from .media.colour import SMPTE170M
from .media.decode import DecodedFrame
from .media.probe import VideoFacts
from .settings import PipelineConfig


class JpegSampler:
    """Every ``frame_step``-th frame waits (at most one stride) for the judge's verdict; a kept
    one is JPEG-encoded then and handed over, a dead one is recorded with its reason."""

    def __init__(self, workdir: Path, cfg: PipelineConfig, facts: VideoFacts, on_output: OutputHandler,
                 thin: bool = True, matrix: int = SMPTE170M,
                 page_of: Callable[[int], int] | None = None) -> None:  # fmt: skip
        """``matrix``: what the pictures' numbers mean (``Rendition.working_matrix``); ``page_of``: the
        clip of a frame, where clips are not cut by time (a copied stream: the review pages follow)."""
        self.workdir, self.cfg, self.facts, self.on_output = workdir, cfg, facts, on_output
        self.matrix = matrix
        self.judge = make_judge(cfg)
        self.pending: dict[int, tuple[float, VideoFrame]] = {}
        self.kept: dict[int, KeptFrame] = {}
        """By frame index; complete once ``finish`` returned (each JPEG's pixel checksum then known)."""
        start = facts.recorded_at
        self.recorded_at = dt.datetime.fromisoformat(start) if start else None
        self.dead: list[DeadFrame] = []
        self.review = (ReviewPages(workdir, cfg.clip_seconds, facts.width, facts.height, page_of)
                       if cfg.review_sheet else None)  # fmt: skip
        self.thin = thin
        """Thin near-duplicates here (one pass); a clip job leaves it to finish, which alone
        knows the last JPEG kept before its clip."""
        self.last_change: np.ndarray | None = None
        self.writer = JpegWriter(cfg.jpeg_quality, self._written)

    def observe(self, item: DecodedFrame, mine: bool = True) -> None:
        """``mine``: whether this frame's JPEG is this pass's to write (a clip job also shows the
        judge its neighbours' frames, for history; their verdicts are the neighbours' to act on)."""
        if mine and is_sampled(item.index, self.cfg.frame_step):
            self.pending[item.index] = (float(item.pts * self.facts.time_base), item.frame)
        for verdict in self.judge.observe(item.index, item.frame, item.damaged):
            self._resolve(verdict)

    def finish(self) -> None:
        for verdict in self.judge.finish():
            self._resolve(verdict)
        self.writer.finish()

    def abort(self) -> None:
        """A failed pass: the JPEGs under way are written (the work folder is the caller's to remove)."""
        self.writer.abort()

    def hand_over_review(self, paged: bool) -> None:
        """The review sheet's pages (``paged``: named by page even if there is one)."""
        if self.review is None:
            return
        pages = self.review.finish()
        for page in pages:
            self.on_output(describe_file("review", page.number, page.path, paged or len(pages) > 1,
                                         page.last_frame - page.first_frame + 1))  # fmt: skip

    def _resolve(self, verdict: Verdict) -> None:
        if verdict.index not in self.pending:
            return  # a neighbour's frame, seen for history only
        seconds, frame = self.pending.pop(verdict.index)
        luma = luma_thumbnail(frame)
        crisp = sharpness(luma)
        change = change_thumbnail(luma) if self.cfg.min_change > 0 else None
        reason = verdict.reason or self._labeling_reason(crisp, change)
        if self.review is not None:
            self.review.add(verdict.index, seconds, frame, reason)
        if reason is not None:
            self.dead.append(DeadFrame(verdict.index, reason))
            return
        if change is not None:
            self.last_change = change
        self.kept[verdict.index] = KeptFrame(verdict.index, seconds, round(crisp, 2), change)
        taken = self.recorded_at + dt.timedelta(seconds=seconds) if self.recorded_at is not None else None
        path = self.workdir / f"frame-{verdict.index:06d}.jpg"
        self.writer.write(verdict.index, path, jpeg_pixels(frame, self.matrix), taken)

    def _written(self, index: int, path: Path, pixels_md5: str) -> None:
        self.kept[index] = dataclasses.replace(self.kept[index], pixels_md5=pixels_md5)
        self.on_output(describe_file("jpeg", index, path))

    def _labeling_reason(self, crisp: float, change: np.ndarray | None) -> str | None:
        """Opt-in choices about live frames: too blurred, or too like the last JPEG kept."""
        if crisp < self.cfg.min_sharpness:
            return "blurred"
        if change is None or not self.thin or self.last_change is None:
            return None
        return "near_duplicate" if is_near_duplicate(change, self.last_change, self.cfg.min_change) else None


def is_near_duplicate(change: np.ndarray, last_kept: np.ndarray, min_change: float) -> bool:
    """``--min-change``: too little changed since the last JPEG kept (coarse pictures compared)."""
    return frame_difference(change, last_kept) < min_change
