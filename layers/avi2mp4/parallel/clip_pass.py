"""One clip of a planned recording, converted as the one pass would have converted it: the same
decode driver (``pipeline.run_pass``) over the clip's span, from the keyframe the plan names. The
driver checks that every packet it sent became one frame, or raises NotCuttable (the numbering
would be wrong)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..handover import DeadFrame, KeptFrame, OutputHandler
from ..media.clips import ClipFile
from ..media.probe import MediaSource
from ..pipeline import Span, StopCheck, run_pass
from ..settings import PipelineConfig
from .plan import Plan


@dataclass
class ClipPassResult:
    clip: ClipFile
    frames: int
    jpegs: list[KeptFrame]
    dead_frames: list[DeadFrame]
    decode_errors: int
    error_messages: list[str]
    steps: dict[int, int] = field(default_factory=dict)
    """Ticks between consecutive frames -> how often, for the clip's frames (fps as played)."""
    last_pts: int = 0
    audio_end: int | None = None
    """The last clip only: where the recording's decoded audio ends, in samples."""


def process_clip(src: MediaSource, plan: Plan, index: int, workdir: Path, cfg: PipelineConfig, *,
                 on_output: OutputHandler, stop: StopCheck | None = None) -> ClipPassResult:  # fmt: skip
    """Convert clip ``index`` of ``plan``; the clip and its kept JPEGs go to ``on_output``."""
    span = plan.clip(index)
    r = run_pass(src, plan.source.key, workdir, cfg, Span(span.index, span.judge_from, plan.seek_point(span)),
                 on_output=on_output, stop=stop, expected_facts=plan.facts)  # fmt: skip
    (clip,) = r.clips
    return ClipPassResult(
        clip=clip, frames=r.frames, jpegs=r.jpegs, dead_frames=r.dead_frames, decode_errors=r.decode_errors,
        error_messages=r.error_messages, steps=r.steps, last_pts=r.last_pts, audio_end=r.audio_end,
    )  # fmt: skip
