"""Files a labelling tool imports as they are, next to the JPEGs of one video (image bucket):

- ``manifest.jsonl``, CVAT's dataset manifest for a cloud-storage task: a version line, a type line,
  then per image its name relative to the folder (no extension), extension, width, height and
  checksum (MD5 of the decoded pixels, as CVAT's ``utils/dataset_manifest`` computes it);
- ``label-studio-tasks.json``, Label Studio's task list: one task per JPEG, ``data.image`` its
  ``s3://`` location (a Label Studio S3 storage presigns it), with the frame index, time, clip and
  recording time as more data for the labeller.

Both are made from the manifest's own rows (pure functions), so one pass and clip jobs write the
same bytes, and written before the manifest, which lists them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from ..storage.port import StoredObject
from .manifest import Manifest
from .names import LABELING_FILES, OutputLayout

CVAT_MANIFEST, LABEL_STUDIO_TASKS = LABELING_FILES
CVAT_VERSION = "1.1"


def cvat_manifest(frames: list[dict[str, Any]], width: int, height: int) -> bytes:
    lines: list[dict[str, Any]] = [{"version": CVAT_VERSION}, {"type": "images"}]
    for row in frames:
        name, _, extension = row["key"].rsplit("/", 1)[-1].rpartition(".")
        lines.append({"name": name, "extension": f".{extension}", "width": width, "height": height,
                      "meta": {"related_images": []}, "checksum": row["pixels_md5"]})  # fmt: skip
    return "".join(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n" for line in lines).encode()


def label_studio_tasks(frames: list[dict[str, Any]], clips: list[dict[str, Any]], source_key: str,
                       recorded_at: str | None) -> bytes:  # fmt: skip
    start = dt.datetime.fromisoformat(recorded_at) if recorded_at else None
    tasks = []
    for row in frames:
        clip = clips[row["clip"]] if row["clip"] < len(clips) else None
        data: dict[str, Any] = {
            "image": row["location"],
            "source": source_key,
            "frame_index": row["frame_index"],
            "time_seconds": row["pts_seconds"],
            "clip": clip["location"] if clip is not None else None,
            "clip_time_seconds": round(row["pts_seconds"] - clip["start_seconds"], 6) if clip is not None else None,
        }
        if start is not None:
            data["recorded_at"] = (start + dt.timedelta(seconds=row["pts_seconds"])).isoformat(timespec="milliseconds")
        tasks.append({"data": data})
    return json.dumps(tasks, indent=1, ensure_ascii=False).encode()


def labeling_files(
    source: dict[str, Any], clips: list[dict[str, Any]], frames: list[dict[str, Any]]
) -> dict[str, bytes]:
    """Name in the JPEG folder -> bytes, for a manifest's ``source``, ``clips`` and ``frames``."""
    return {
        CVAT_MANIFEST: cvat_manifest(frames, source["width"], source["height"]),
        LABEL_STUDIO_TASKS: label_studio_tasks(frames, clips, source["key"], source.get("recorded_at")),
    }


FIELDS = {CVAT_MANIFEST: "cvat_manifest", LABEL_STUDIO_TASKS: "label_studio_tasks"}


def store_labeling_files(put: Callable[[str, bytes], StoredObject], layout: OutputLayout, manifest: Manifest) -> None:
    """Write the files with ``put(image-bucket key, bytes)`` and list them in ``manifest`` (before it
    is written); nothing when no JPEG was kept (a labelling task needs images)."""
    if not manifest.frames:
        return
    for name, data in labeling_files(manifest.source, manifest.clips, manifest.frames).items():
        stored = put(layout.labeling_key(name), data)
        manifest.labeling_tools[FIELDS[name]] = {"key": stored.key, "location": stored.location,
                                                 "bytes": stored.size, "sha256": stored.sha256}  # fmt: skip
