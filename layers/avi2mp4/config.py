"""Pipeline settings: one frozen value, validated on construction.

The same object is built from CLI flags (cli.py) and from the Lambda's environment
(handler/settings.py), so the limits live here once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import ConfigError

X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast",
    "medium", "slow", "slower", "veryslow", "placebo",
)  # fmt: skip


@dataclass(frozen=True)
class DeadFrameThresholds:
    """When a frame counts as dead (deadframes.py). Measured on a full-range luma thumbnail."""

    black_level: float = 0.10
    """A pixel is black at or below this fraction of the luma range (blackdetect's pix_th)."""
    black_share: float = 0.98
    """...and a frame is black when this share of its pixels is (blackdetect's pic_th)."""
    blank_spread: float = 2.5
    """A frame is blank (flat, any colour) when its 8x8 block means vary less than this (0-255)."""
    repeat_diff: float = 0.00005
    """Mean absolute difference (0-1) under which a frame repeats the previous one: decoded repeats
    are bit-identical (0.0), while live sensor noise stays above this even on a 1080p thumbnail."""
    refresh_diff: float = 0.02
    """Allowance for a keyframe that re-encodes a frozen picture in an inter-coded stream."""

    def __post_init__(self) -> None:
        for name in ("black_level", "black_share", "repeat_diff", "refresh_diff"):
            value = getattr(self, name)
            _check(0 <= value <= 1, name, value, "must be 0..1")
        _check(0 <= self.blank_spread <= 255, "blank_spread", self.blank_spread, "must be 0..255")


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
    dead_thresholds: DeadFrameThresholds = field(default_factory=DeadFrameThresholds)

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
        return asdict(self)


def _check(ok: bool, name: str, value: object, rule: str) -> None:
    if not ok:
        raise ConfigError(f"{name}={value!r}: {rule}")
