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

from av.video.frame import VideoFrame

from ..settings import DeadFrameThresholds, PipelineConfig
from .jpeg import is_sampled
from .judgements import Luma, frame_difference, is_black, is_blank
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


@dataclass
class DeadFrameDetector:
    """Streaming judge. ``sampled(index)`` says which frames need a verdict; ``min_run`` is how
    many repeats make a frozen run (one sampling stride, so ordinary 1-2 frame duplicates live)."""

    sampled: Callable[[int], bool]
    min_run: int
    limits: DeadFrameThresholds = field(default_factory=DeadFrameThresholds)
    _previous: Luma | None = None
    _previous_key: bool = True
    _previous_repeated: bool = False
    _run_start: int = 0
    _waiting: list[int] = field(default_factory=list)  # sampled repeats: frozen if the run grows

    @property
    def history_frames(self) -> int:
        # A verdict depends on the run start only through "did the run start min_run frames
        # back?"; the previous frame's state settles one frame in, a keyframe refresh one more.
        return self.min_run + 2

    @property
    def lookahead_frames(self) -> int:
        return self.min_run + 1

    def observe(self, index: int, frame: VideoFrame, damaged: bool) -> list[Verdict]:
        luma = luma_thumbnail(frame)
        verdicts: list[Verdict] = []
        repeated = self._repeats(luma, frame.key_frame)
        self._previous_repeated = repeated
        if not repeated:
            # The run of repeats (if any) ended short of min_run: its waiting frames live.
            verdicts += [Verdict(i, None) for i in self._waiting]
            self._waiting.clear()
            self._run_start = index
        self._previous, self._previous_key = luma, frame.key_frame
        if self.sampled(index):
            reason = self._still_reason(luma, damaged)
            if reason is not None or index == self._run_start:
                verdicts.append(Verdict(index, reason))  # the first frame of a run is kept
            else:
                self._waiting.append(index)
        if self._waiting and index - self._run_start >= self.min_run:
            verdicts += [Verdict(i, "frozen") for i in self._waiting]
            self._waiting.clear()
        return verdicts

    def finish(self) -> list[Verdict]:
        verdicts = [Verdict(i, None) for i in self._waiting]
        self._waiting.clear()
        return verdicts

    def _still_reason(self, luma: Luma, damaged: bool) -> str | None:
        if damaged:
            return "damaged"
        if is_black(luma, self.limits.black_level, self.limits.black_share):
            return "black"
        if is_blank(luma, self.limits.blank_spread):
            return "blank"
        return None

    def _repeats(self, luma: Luma, key_frame: bool) -> bool:
        previous = self._previous
        if previous is None or previous.shape != luma.shape:
            return False
        diff = frame_difference(luma, previous)
        if diff <= self.limits.repeat_diff:
            return True
        # An inter-coded stream refreshes a frozen picture at its keyframes: the re-encoded copy
        # differs a little (~0.004) but still repeats. Only a run already under way is continued,
        # and never in intra-only streams (every frame a keyframe): a static scene with live
        # sensor noise also differs that little at each keyframe.
        in_run = self._previous_repeated and not self._previous_key
        return key_frame and in_run and diff <= self.limits.refresh_diff


def make_judge(cfg: PipelineConfig) -> FrameJudge:
    """The judge the settings ask for."""
    if not cfg.dead_frame_filter:
        return KeepAll(cfg.frame_step)
    step = cfg.frame_step
    return DeadFrameDetector(lambda i: is_sampled(i, step), min_run=step, limits=cfg.dead_thresholds)
