"""Dead frames: which sampled frames are worth a labeler's time.

A frame is dead when it carries no labelable scene content: black, blank (a flat field of any
colour), frozen (a repeat inside a long run of repeats) or decoder-damaged. The judgement is made
on a ~160 px luma thumbnail (full range, whatever the source's), by small pure functions below,
and by a streaming detector that sees every decoded frame and decides each sampled frame at most
one sampling stride later. Dead frames are dropped from the JPEG set only; the MP4 keeps them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from av.video.frame import VideoFrame
from av.video.reformatter import ColorRange

from .config import DeadFrameThresholds, PipelineConfig
from .frames import is_sampled, source_range

THUMB_WIDTH = 160
BLOCK = 8
Luma = np.ndarray  # 2-D uint8, full range (0 = black, 255 = white)


# ---- pure judgements on a luma thumbnail -------------------------------------------------------
def is_black(luma: Luma, level: float = 0.10, share: float = 0.98) -> bool:
    """FFmpeg blackdetect's per-frame rule: >= ``share`` of pixels at or below ``level`` of the range."""
    return float(np.count_nonzero(luma <= level * 255)) >= share * luma.size


def block_spread(luma: Luma, block: int = BLOCK) -> float:
    """Standard deviation of ``block`` x ``block`` block means: ~0 for a flat field, even a noisy one
    (averaging 64 pixels divides the noise by 8), large for any picture with structure."""
    h, w = (luma.shape[0] // block) * block, (luma.shape[1] // block) * block
    if h == 0 or w == 0:
        return float(luma.std())
    means = luma[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3))
    return float(means.std())


def is_blank(luma: Luma, spread: float = 2.5) -> bool:
    """A flat field of any brightness: gray concealment, zeroed green, blue "no signal", white flash."""
    return block_spread(luma) < spread


def frame_difference(a: Luma, b: Luma) -> float:
    """Mean absolute difference of two thumbnails, as a fraction of the range (0..1)."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()) / 255.0


# 8-bit formats whose first plane is luma: the thumbnail is a strided view of it, no swscale.
_LUMA_PLANE_FORMATS = frozenset({
    "yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv411p", "yuvj411p",
    "yuv410p", "yuv440p", "yuvj440p", "gray", "nv12", "nv21", "nv16",
})  # fmt: skip
# Limited range (16-235) -> full range (0-255), as a lookup table.
_EXPAND = np.clip((np.arange(256) - 16) * 255 / 219 + 0.5, 0, 255).astype(np.uint8)


def luma_thumbnail(frame: VideoFrame, width: int = THUMB_WIDTH) -> Luma:
    """A full-range 8-bit luma thumbnail ~``width`` px wide (the source's range made explicit).

    For the common 8-bit YUV formats it samples every Nth luma pixel straight from the decoded
    plane: ~20 us at 1080p, where a swscale downscale costs ~0.8 ms at 720p. Point samples keep
    sensor noise (which tells a live static scene from a frozen one); block means average it away
    where flatness is judged.
    """
    full = source_range(frame) == ColorRange.JPEG
    if frame.format.name in _LUMA_PLANE_FORMATS:
        plane = frame.planes[0]
        rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(-1, plane.line_size)[
            : frame.height, : frame.width
        ]
        step = max(1, -(-frame.width // width))  # ceil: never wider than ``width``
        thumb = np.ascontiguousarray(rows[::step, ::step])
        return thumb if full or frame.format.name == "gray" else _EXPAND[thumb]
    return _swscale_thumbnail(frame, width, full)


def _swscale_thumbnail(frame: VideoFrame, width: int, full: bool) -> Luma:
    height = max(BLOCK, round(frame.height * width / max(frame.width, 1) / 2) * 2)
    small = frame.reformat(
        width=min(width, frame.width) if frame.width >= BLOCK else width,
        height=min(height, frame.height) if frame.height >= BLOCK else height,
        format="gray",
        src_color_range=ColorRange.JPEG if full else ColorRange.MPEG,
        dst_color_range=ColorRange.JPEG,
    )
    return small.to_ndarray()


# ---- the judge protocol and its implementations ------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    index: int
    """Source frame index of a sampled frame."""
    reason: str | None
    """Why the frame is dead (``black``, ``blank``, ``frozen``, ``damaged``), or None to keep it."""


class FrameJudge(Protocol):
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


@dataclass
class DamageTracker:
    """Which decoded frames are damaged: flagged by the decoder (concealment, corrupt), or decoded
    after a packet failed, until the next keyframe (a lost reference smears everything after it)."""

    _lost_reference: bool = False

    def packet_failed(self) -> None:
        self._lost_reference = True

    def is_damaged(self, frame: VideoFrame) -> bool:
        if frame.key_frame:
            self._lost_reference = False
        if frame.is_corrupt:
            # The decoder concealed errors in this frame; the frames predicted from it inherit them.
            self._lost_reference = True
            return True
        return self._lost_reference


def make_judge(cfg: PipelineConfig) -> FrameJudge:
    """The judge the settings ask for."""
    if not cfg.dead_frame_filter:
        return KeepAll(cfg.frame_step)
    step = cfg.frame_step
    return DeadFrameDetector(lambda i: is_sampled(i, step), min_run=step, limits=cfg.dead_thresholds)
