"""Pipeline settings: one frozen value, validated on construction.

The same object is built from CLI flags (cli.py) and from the Lambda's environment
(handler/settings.py), so the limits live here once.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from .errors import ConfigError

X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast",
    "medium", "slow", "slower", "veryslow", "placebo",
)  # fmt: skip


@dataclass(frozen=True)
class PipelineConfig:
    """What the media pipeline does with one video. Units are in the names."""

    clip_seconds: float = 120.0
    """Length of each clip when a video is split."""
    split_after_seconds: float = 240.0
    """Videos longer than this are split into ``clip_seconds`` clips; shorter ones stay whole."""
    frame_step: int = 10
    """Every Nth decoded frame (0, N, 2N, ...) is a JPEG candidate."""
    dead_frame_filter: bool = True
    """Drop black, blank, frozen and damaged frames from the JPEG set."""
    jpeg_quality: int = 90
    """Pillow JPEG quality, 1-95."""
    x264_preset: str = "veryfast"
    x264_crf: int = 23
    fallback_fps: float = 25.0
    """Frame rate assumed when the header's rate is missing or implausible."""
    max_fps: float = 240.0
    """Header rates above this are treated as bogus (see pitfalls: a header claiming 1000 fps)."""

    def __post_init__(self) -> None:
        _check(self.clip_seconds > 0, "clip_seconds", self.clip_seconds, "must be > 0")
        _check(
            self.split_after_seconds >= self.clip_seconds,
            "split_after_seconds",
            self.split_after_seconds,
            f"must be >= clip_seconds ({self.clip_seconds})",
        )
        _check(1 <= self.frame_step <= 100_000, "frame_step", self.frame_step, "must be 1..100000")
        _check(1 <= self.jpeg_quality <= 95, "jpeg_quality", self.jpeg_quality, "must be 1..95")
        _check(self.x264_preset in X264_PRESETS, "x264_preset", self.x264_preset,
               f"must be one of {', '.join(X264_PRESETS)}")  # fmt: skip
        _check(0 <= self.x264_crf <= 51, "x264_crf", self.x264_crf, "must be 0..51")
        _check(1 <= self.fallback_fps <= self.max_fps, "fallback_fps", self.fallback_fps,
               f"must be 1..max_fps ({self.max_fps})")  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _check(ok: bool, name: str, value: object, rule: str) -> None:
    if not ok:
        raise ConfigError(f"{name}={value!r}: {rule}")
