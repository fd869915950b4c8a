"""Dead frames: which sampled frames are worth a labeler's time.

A frame is dead when it carries no labelable scene content: black, blank (a flat field of any
colour), frozen (a repeat inside a long run of repeats) or decoder-damaged. The judgements are the
pure functions of ``judgements``, made on a ~160 px luma thumbnail (``thumbnail``); the streaming
detector here sees every decoded frame and decides each sampled frame at most one sampling stride
later. Dead frames are dropped from the JPEG set only; the MP4 keeps them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from av.video.frame import VideoFrame

from ..settings import DeadFrameThresholds, PipelineConfig
from .jpeg import is_sampled
from .judgements import Luma, block_stats, concealed_rows, frame_difference, is_black
from .thumbnail import luma_thumbnail


@dataclass(frozen=True)
class Verdict:
    index: int
    """Source frame index of a sampled frame."""
    reason: str | None
    """Why the frame is dead (``black``, ``blank``, ``frozen``, ``damaged``), or None to keep it."""


class FrameJudge(Protocol):
    @property
    def history_frames(self) -> int:
        """How many frames before a frame the judge must have seen to judge it as one pass from the
        start would (a clip job starts this far before its clip)."""
        ...

    @property
    def lookahead_frames(self) -> int:
        """How many frames after a sampled frame its verdict may wait for (a clip job decodes this
        far past its clip)."""
        ...

    def observe(self, index: int, frame: VideoFrame, damaged: bool) -> list[Verdict]:
        """See decoded frame ``index``; return verdicts that are now final (any order)."""
        ...

    def finish(self) -> list[Verdict]:
        """End of stream: the verdicts still pending."""
        ...


@dataclass
class KeepAll:
    """No filtering (``--no-dead-filter``): every sampled frame is kept at once."""

    frame_step: int
    history_frames: int = 0
    lookahead_frames: int = 0

    def observe(self, index: int, frame: VideoFrame, damaged: bool) -> list[Verdict]:
        return [Verdict(index, None)] if is_sampled(index, self.frame_step) else []

    def finish(self) -> list[Verdict]:
        return []


MAX_SETTLE_FRAMES = 3
"""How many frames an encoder may take to converge on a picture that froze (measured: MPEG-4 at
q2 takes two, 0.0007 then 0.0001, before it repeats exactly)."""


@dataclass
class DeadFrameDetector:
    """Streaming judge. ``sampled(index)`` says which frames need a verdict; ``min_run`` is how
    many repeats make a frozen run (one sampling stride, so ordinary 1-2 frame duplicates live).

    A sampled frame's verdict waits at most ``lookahead_frames``: until its run of repeats reaches
    ``min_run`` (frozen) or ends (kept), one frame more where a keyframe's refresh of a frozen
    picture must be confirmed (the next frame repeats it exactly, or the live scene resumed on that
    keyframe) or where a frame close to the one before might be the first of a freeze (the encoder
    converging on the frozen picture over up to MAX_SETTLE_FRAMES: confirmed by an exact repeat)."""

    sampled: Callable[[int], bool]
    min_run: int
    limits: DeadFrameThresholds = field(default_factory=DeadFrameThresholds)
    _previous: Luma | None = None
    _previous_key: bool = True
    _previous_repeated: bool = False
    _run_start: int = 0
    _waiting: list[int] = field(default_factory=list)  # sampled frames of the run: frozen if it grows
    _refresh: int | None = None  # a keyframe that continues the run if the next frame repeats it
    _settling: int | None = None  # a near-repeat that starts a freeze if the next frame repeats it
    _reference_flat: np.ndarray | None = None  # flat blocks of the last frame not concealed
    _previous_diff: float | None = None

    @property
    def history_frames(self) -> int:
        # A verdict depends on the run start only through "did the run start min_run frames
        # back?"; the previous frame's state settles one frame in, a refresh one more, and a
        # converging start may move the run start back over MAX_SETTLE_FRAMES frames.
        return self.min_run + MAX_SETTLE_FRAMES + 2

    @property
    def lookahead_frames(self) -> int:
        return self.min_run + MAX_SETTLE_FRAMES + 1

    def observe(self, index: int, frame: VideoFrame, damaged: bool) -> list[Verdict]:
        luma = luma_thumbnail(frame)
        verdicts: list[Verdict] = []
        previous = self._previous
        diff = frame_difference(luma, previous) if previous is not None and previous.shape == luma.shape else None
        exact = diff is not None and diff <= self.limits.repeat_diff
        if self._refresh is not None:
            refresh, self._refresh = self._refresh, None
            if not exact:  # the live scene resumed on that keyframe: the run ended before it
                verdicts += self._end_run(refresh - 1)
                self._run_start = refresh
        converging = False
        if self._settling is not None:
            if exact:  # a freeze after all: the frame before the first converging one was the last live
                self._run_start, self._settling = self._settling - 1, None
            elif index - self._settling < MAX_SETTLE_FRAMES and (
                self._converging(diff, frame.key_frame)
                or (frame.key_frame and diff is not None and diff <= self.limits.refresh_diff)  # a GOP ends there
            ):
                converging = True
            else:  # no freeze: the converging frames live (the run ends below)
                self._settling = None
        repeated = exact or converging or self._refreshes(diff, frame.key_frame, index)
        if not repeated:
            verdicts += self._end_run(index - 1)
            self._run_start = index
            if self._converging(diff, frame.key_frame):
                self._settling = index
        self._previous_diff = diff
        self._previous_repeated = repeated
        self._previous, self._previous_key = luma, frame.key_frame
        reason = self._still_reason(luma, damaged)
        if self.sampled(index):
            if reason is not None:
                verdicts.append(Verdict(index, reason))
            elif index == self._run_start and self._settling != index:
                verdicts.append(Verdict(index, None))  # the first frame of a run is kept
            else:
                self._waiting.append(index)
        held = self._refresh is not None or self._settling is not None  # a start or a refresh unconfirmed
        if self._waiting and not held and index - self._run_start >= self.min_run:
            verdicts += [Verdict(i, "frozen") for i in self._waiting]
            self._waiting.clear()
        return verdicts

    def finish(self) -> list[Verdict]:
        verdicts = self._end_run(self._refresh - 1 if self._refresh is not None else None)
        self._refresh = self._settling = None
        return verdicts

    def _end_run(self, last: int | None) -> list[Verdict]:
        """The run ended at frame ``last``: its waiting frames are frozen if it reached min_run
        by then (a refresh held the call back), else they live."""
        frozen = last is not None and last - self._run_start >= self.min_run
        verdicts = [Verdict(i, "frozen" if frozen and i <= last else None) for i in self._waiting]  # type: ignore[operator]
        self._waiting.clear()
        return verdicts

    def _still_reason(self, luma: Luma, damaged: bool) -> str | None:
        means, variances = block_stats(luma)
        flat = variances < self.limits.flat_std**2
        reference, self._reference_flat = self._reference_flat, flat
        if damaged:
            return "damaged"
        if is_black(luma, self.limits.black_level, self.limits.black_share):
            return "black"
        if float(means.std()) < self.limits.blank_spread:
            return "blank"
        if reference is not None and reference.shape == flat.shape:
            share = concealed_rows(flat, reference, means, self.limits.blank_spread)
            if share >= self.limits.concealed_share:
                self._reference_flat = reference  # compared with the last frame before the damage
                return "concealed"
        return None

    def _converging(self, diff: float | None, key_frame: bool) -> bool:
        """Could this frame be an encoder converging on a picture that froze one frame ago? A
        predicted frame much closer to the one before than that one was to its own predecessor:
        the source stopped changing, only coding error moved. (A live static scene's frames differ
        by its noise, frame after frame; an intra-only stream codes a repeat bit-identically.)"""
        if diff is None or key_frame or diff > self.limits.settle_diff:
            return False
        return self._previous_diff is None or diff < self._previous_diff / 2

    def _refreshes(self, diff: float | None, key_frame: bool, index: int) -> bool:
        """An inter-coded stream refreshes a frozen picture at its keyframes: the re-encoded copy
        differs a little (~0.004). Only a run under way is continued, never in intra-only streams
        (every frame a keyframe), and only if the next frame repeats the keyframe (``_refresh``)."""
        in_run = self._previous_repeated and not self._previous_key
        if diff is None or not (key_frame and in_run and diff <= self.limits.refresh_diff):
            return False
        self._refresh = index
        return True


def make_judge(cfg: PipelineConfig) -> FrameJudge:
    """The judge the settings ask for."""
    if not cfg.dead_frame_filter:
        return KeepAll(cfg.frame_step)
    step = cfg.frame_step
    return DeadFrameDetector(lambda i: is_sampled(i, step), min_run=step, limits=cfg.dead_thresholds)
