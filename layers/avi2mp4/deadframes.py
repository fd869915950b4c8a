"""Dead-frame judgement: which sampled frames are worth a labeler's time.

The pipeline shows the judge every decoded frame (frozen runs can only be seen that way) and
receives verdicts on the sampled ones, possibly a few frames late (bounded delay).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from av.video.frame import VideoFrame

from .config import PipelineConfig
from .frames import is_sampled


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


def make_judge(cfg: PipelineConfig) -> FrameJudge:
    """The judge the settings ask for."""
    return KeepAll(cfg.frame_step)
