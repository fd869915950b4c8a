"""The function's settings: read once from the environment, typed, validated, fail fast.

A bad value raises ConfigError naming the variable, at the first invocation of a cold container,
before any object is touched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from avi2mp4.config import DeadFrameThresholds, PipelineConfig
from avi2mp4.errors import ConfigError

T = TypeVar("T")
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    video_bucket: str
    image_bucket: str
    idempotency_table: str
    idempotency_ttl_seconds: int
    tmp_dir: Path
    pipeline: PipelineConfig

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        d = PipelineConfig()
        read = _Reader(env)
        t = d.dead_thresholds
        dead_values = {
            name: read(f"DEAD_{name.upper()}", float, getattr(t, name))
            for name in ("black_level", "black_share", "blank_spread", "repeat_diff", "refresh_diff")
        }
        try:
            thresholds = DeadFrameThresholds(**dead_values)
        except ConfigError as exc:  # name the variable, not the field
            raise ConfigError(f"DEAD_{str(exc).split('=', 1)[0].upper()}: {exc}") from exc
        pipeline_values = {
            "clip_seconds": read("CLIP_SECONDS", float, d.clip_seconds),
            "split_after_seconds": read("SPLIT_AFTER_SECONDS", float, d.split_after_seconds),
            "frame_step": read("FRAME_STEP", int, d.frame_step),
            "dead_frame_filter": read("DEAD_FRAME_FILTER", _bool, d.dead_frame_filter),
            "jpeg_quality": read("JPEG_QUALITY", int, d.jpeg_quality),
            "x264_preset": read("X264_PRESET", str, d.x264_preset),
            "x264_crf": read("X264_CRF", int, d.x264_crf),
            "dead_thresholds": thresholds,
        }
        try:
            pipeline = PipelineConfig(**pipeline_values)  # type: ignore[arg-type]
        except ConfigError as exc:  # name the variable, not the field
            field = str(exc).split("=", 1)[0]
            var = {"split_after_seconds": "SPLIT_AFTER_SECONDS", "x264_preset": "X264_PRESET",
                   "x264_crf": "X264_CRF"}.get(field, field.upper())  # fmt: skip
            raise ConfigError(f"{var}: {exc}") from exc
        settings = cls(
            video_bucket=read("VIDEO_BUCKET", str, "video-mp4"),
            image_bucket=read("IMAGE_BUCKET", str, "unlabeled-images"),
            idempotency_table=read("IDEMPOTENCY_TABLE", str, None),
            idempotency_ttl_seconds=read("IDEMPOTENCY_TTL_SECONDS", int, 24 * 3600),
            tmp_dir=Path(read("TMP_DIR", str, "/tmp")),
            pipeline=pipeline,
        )
        if settings.video_bucket == settings.image_bucket:
            raise ConfigError("VIDEO_BUCKET and IMAGE_BUCKET must differ (manifests and JPEG prefixes would mix)")
        if settings.idempotency_ttl_seconds < 60:
            raise ConfigError(f"IDEMPOTENCY_TTL_SECONDS={settings.idempotency_ttl_seconds}: must be >= 60")
        return settings


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def __call__(self, name: str, parse: Callable[[str], T], default: T | None) -> T:
        raw = self.env.get(name, "").strip()
        if not raw:
            if default is None:
                raise ConfigError(f"{name} is not set")
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}={raw!r}: {exc}") from exc


def _bool(raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ValueError("expected true or false")
