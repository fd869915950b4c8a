"""A clip job: one clip of a plan converted and stored, with a small report for finish.

A pure function of (plan, clip number) plus storage: a re-run writes the same keys. It never writes
the manifest and never touches the source. On failure it removes what it stored itself (the
clip, its JPEGs, its report) and leaves its neighbours' outputs alone: the state machine's catch or
the local runner removes the rest.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..handover import KeptFrame, OutputFile
from ..job import UPLOAD_WORKERS, output_key, store_output
from ..media.probe import MediaSource
from ..outputs import previous
from ..outputs.names import OutputLayout
from ..outputs.previous import OwnedKey
from ..pipeline import StopCheck
from ..settings import PipelineConfig
from ..storage.port import Store, StoredObject
from .clip_pass import process_clip
from .plan import Plan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ClipReport:
    """What one clip job stored and saw (JSON in the store, read by finish)."""

    clip: int
    first_frame: int
    last_frame: int
    start_seconds: float
    duration_seconds: float
    video: StoredFile
    jpegs: list[dict[str, Any]] = field(default_factory=list)
    """``{"frame_index", "pts_seconds", "sharpness", "key", "size", "sha256"}`` per kept JPEG (and
    ``"change"``, its coarse picture, when near-duplicates are thinned)."""
    dead_frames: list[dict[str, Any]] = field(default_factory=list)
    decode_errors: int = 0
    error_messages: list[str] = field(default_factory=list)
    steps: dict[str, int] = field(default_factory=dict)
    last_pts: int = 0
    audio_end: int | None = None
    review: StoredFile | None = None
    """The clip's review sheet page (``OutputLayout.review_key(clip, True)``), if sheets are on."""

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ClipReport:
        data = json.loads(raw)
        data["video"] = StoredFile(**data["video"])
        data["review"] = StoredFile(**data["review"]) if data.get("review") else None
        return cls(**data)


def run_clip(src: MediaSource, plan: Plan, clip: int, store: Store, cfg: PipelineConfig, *,
             tmp_root: Path | None = None, stop: StopCheck | None = None) -> ClipReport:  # fmt: skip
    """Convert clip ``clip`` of ``plan`` from ``src`` and store its outputs and its report."""
    layout = OutputLayout.for_key(plan.source.key)
    workdir = Path(tempfile.mkdtemp(prefix="avi2mp4-clip-", dir=tmp_root))
    written: list[OwnedKey] = []
    futures: dict[tuple[str, int], Future[StoredObject]] = {}
    with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS, thread_name_prefix="avi2mp4-store") as pool:

        def on_output(out: OutputFile) -> None:
            target, key = output_key(layout, out)  # a clip job's clip and page come split/paged
            written.append(OwnedKey(target, key))
            futures[(out.kind, out.index)] = pool.submit(store_output, store, target, key, out, cfg.verify_clips)

        try:
            result = process_clip(src, plan, clip, workdir, cfg, on_output=on_output, stop=stop)
            stored = {name: future.result() for name, future in futures.items()}
            video = stored[("clip", result.clip.index)]
            report = ClipReport(
                clip=clip, first_frame=result.clip.first_frame, last_frame=result.clip.last_frame,
                start_seconds=result.clip.start_seconds, duration_seconds=result.clip.duration_seconds,
                video=StoredFile(video.key, video.size, video.sha256),
                review=_file(stored.get(("review", clip))),
                jpegs=[_jpeg_row(j, stored[("jpeg", j.index)]) for j in result.jpegs],
                dead_frames=[{"frame_index": d.index, "reason": d.reason} for d in result.dead_frames],
                decode_errors=result.decode_errors, error_messages=result.error_messages,
                steps={str(k): v for k, v in result.steps.items()}, last_pts=result.last_pts,
                audio_end=result.audio_end,
            )  # fmt: skip
            data = report.to_json()
            key = layout.clip_report_key(clip)
            written.append(OwnedKey("video", key))
            store.put_bytes("video", key, data, _sha256(data), "application/json")
        except BaseException:
            for future in futures.values():
                future.cancel()
            for future in futures.values():
                with contextlib.suppress(Exception):
                    future.result()
            _remove(store, written)
            raise
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    log.info("clip %d of %s: frames %d..%d, %d JPEGs", clip, plan.source.key, report.first_frame,
             report.last_frame, len(report.jpegs))  # fmt: skip
    return report


def _file(stored: StoredObject | None) -> StoredFile | None:
    return StoredFile(stored.key, stored.size, stored.sha256) if stored is not None else None


def _jpeg_row(kept: KeptFrame, stored: StoredObject) -> dict[str, Any]:
    row = {"frame_index": kept.index, "pts_seconds": kept.pts_seconds, "sharpness": kept.sharpness,
           "key": stored.key, "size": stored.size, "sha256": stored.sha256}  # fmt: skip
    if kept.change is not None:  # finish thins near-duplicates across clips (--min-change)
        row["change"] = encode_change(kept.change)
    return row


def encode_change(change: np.ndarray) -> dict[str, Any]:
    return {"shape": list(change.shape), "bytes": base64.b64encode(change.tobytes()).decode()}


def decode_change(data: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(data["bytes"]), dtype=np.uint8).reshape(data["shape"])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _remove(store: Store, written: list[OwnedKey]) -> None:
    try:
        previous.remove(store, written)
    except Exception as exc:  # the state machine's catch (or the local runner) removes the rest
        log.warning("could not remove what clip job wrote (%d objects): %s", len(written), exc)
