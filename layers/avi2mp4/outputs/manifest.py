"""The JSON manifest: what one source produced, written last, so its presence means "complete"."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import av

from .. import __version__
from ..pipeline import PipelineResult
from ..settings import PipelineConfig
from ..storage.port import SourceRef, StoredObject
from .names import display_key

MANIFEST_VERSION = 1


@dataclass
class Manifest:
    source: dict[str, Any]
    clips: list[dict[str, Any]]
    frames: list[dict[str, Any]]
    dead_frames: list[dict[str, Any]]
    decode_errors: dict[str, Any]
    warnings: list[str]
    settings: dict[str, Any]
    software: dict[str, Any] = field(default_factory=dict)
    review_sheets: list[dict[str, Any]] = field(default_factory=list)
    """Pages of thumbnails of every sampled frame (dropped ones dimmed, with their reason)."""
    conversion: dict[str, Any] = field(default_factory=dict)
    """How it was converted: ``{"path": "single"}`` (one pass), ``{"path": "parallel", "clip_jobs":
    N}``, or ``{"path": "sequential", "why": ...}`` (long, but not safe to cut into clip jobs)."""
    picture: dict[str, Any] = field(default_factory=dict)
    """What was done to the pictures and why: ``deinterlaced`` (and how that was decided), the
    MP4's ``colour`` (matrix, primaries, transfer, range, and a note on what was converted)."""
    labeling_tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Files a labelling tool imports (``cvat_manifest``, ``label_studio_tasks``): key, location,
    bytes, sha256; none when no JPEG was kept."""
    manifest_version: int = MANIFEST_VERSION

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False).encode()


def build_manifest(
    source: SourceRef,
    result: PipelineResult,
    clips: dict[int, StoredObject],
    images: dict[int, StoredObject],
    cfg: PipelineConfig,
    conversion: dict[str, Any] | None = None,
    reviews: list[StoredObject] | None = None,
) -> Manifest:
    """``clips`` maps clip numbers, ``images`` source frame indices, to what the store wrote."""
    facts = result.facts
    clip_rows = []
    clip_of_frame: list[tuple[int, int, int]] = []
    for clip in result.clips:
        stored = clips[clip.index]
        clip_rows.append({
            "key": stored.key,
            "location": stored.location,
            "first_frame": clip.first_frame,
            "last_frame": clip.last_frame,
            "frames": clip.last_frame - clip.first_frame + 1,
            "start_seconds": round(clip.start_seconds, 6),
            "duration_seconds": round(clip.duration_seconds, 6),
            "bytes": stored.size,
            "sha256": stored.sha256,
        })  # fmt: skip
        clip_of_frame.append((clip.first_frame, clip.last_frame, clip.index))
    frame_rows = [
        {
            "key": images[f.index].key,
            "location": images[f.index].location,
            "frame_index": f.index,
            "pts_seconds": round(f.pts_seconds, 6),
            "sharpness": f.sharpness,
            "pixels_md5": f.pixels_md5,
            "clip": next(i for lo, hi, i in clip_of_frame if lo <= f.index <= hi),
            "bytes": images[f.index].size,
            "sha256": images[f.index].sha256,
        }
        for f in result.jpegs
    ]
    return Manifest(
        source={
            **asdict(source),
            "key": display_key(source.key),
            "container": facts.container_format,
            "codec": facts.codec,
            "width": facts.width,
            "height": facts.height,
            "sample_aspect_ratio": str(facts.sample_aspect_ratio) if facts.sample_aspect_ratio else None,
            "fps": round(float(result.fps), 6),
            "header_fps": round(float(facts.header_rate), 6) if facts.header_rate else None,
            "retimed": facts.retimed,
            "header_frames": facts.header_frames,
            "frames_decoded": result.frames_decoded,
            "duration_seconds": round(result.duration_seconds, 6),
            "audio_codec": facts.audio_codec,
            "recorded_at": facts.recorded_at,
        },
        clips=clip_rows,
        frames=frame_rows,
        dead_frames=[{"frame_index": d.index, "reason": d.reason} for d in result.dead_frames],
        decode_errors={"count": result.decode_errors, "first": result.error_messages},
        warnings=result.warnings,
        settings=cfg.as_dict(),
        software={"avi2mp4": __version__, "pyav": av.__version__, "ffmpeg": _ffmpeg_version()},
        review_sheets=[
            {"key": r.key, "location": r.location, "bytes": r.size, "sha256": r.sha256} for r in reviews or []
        ],
        conversion=conversion or {"path": "single"},
        picture=result.setup.describe() if result.setup is not None else {},
    )


def _ffmpeg_version() -> str:
    major, minor, micro = av.library_versions["libavcodec"]
    return f"libavcodec {major}.{minor}.{micro}"
