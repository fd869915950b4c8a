"""What a conversion tells the world when it ends: one event per outcome (``Conversion Completed``,
``Conversion Rejected``, ``Conversion Failed``), the same from one pass and from clip jobs.

The runtime publishes them (the function to EventBridge: ``handler.events``); this module only says
what they hold, so the schema lives in one place (README "Completion events"). An event is made
where the outcome is observed, once: a duplicate S3 event, answered from the idempotency record,
observes nothing and so publishes nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..storage.port import SourceRef, StoredObject
from .outcome import Converted, Failed, Outcome, Rejected

SOURCE = "avi2mp4"
"""The events' ``source``: what a rule matches on."""
COMPLETED, REJECTED, FAILED = "Conversion Completed", "Conversion Rejected", "Conversion Failed"
SCHEMA_VERSION = 1
MAX_DETAIL_BYTES = 200_000
"""EventBridge takes 256 KB an entry; a recording of many hours lists its clips in the manifest only."""

PATHS = {"single": "one_pass", "sequential": "one_pass", "parallel": "clip_jobs"}


@dataclass(frozen=True)
class Event:
    detail_type: str
    detail: dict[str, Any]

    def detail_json(self) -> str:
        return json.dumps(self.detail, sort_keys=True, separators=(",", ":"))


def event_of(outcome: Outcome) -> Event | None:
    """The event an outcome publishes; None for steps on the way (handed off, fell back, skipped)."""
    match outcome:
        case Converted():
            return Event(COMPLETED, _completed(outcome))
        case Rejected():
            record = outcome.record.location if outcome.record is not None else None
            return Event(REJECTED, {**_about(outcome.source), "error": outcome.error, "reason": outcome.reason,
                                    "record": record, "source_kept": True})  # fmt: skip
        case Failed():
            return Event(FAILED, {**_about(outcome.source), "error": outcome.error, "reason": outcome.reason,
                                  "source_kept": True})  # fmt: skip
    return None


def _about(source: SourceRef) -> dict[str, Any]:
    where = {"bucket": source.bucket, "key": source.key, "version_id": source.version_id, "etag": source.etag,
             "size": source.size}  # fmt: skip
    return {"version": SCHEMA_VERSION, "source": where}


def _completed(done: Converted) -> dict[str, Any]:
    detail = {
        **_about(done.source),
        "path": PATHS[done.path],
        "fell_back_to_one_pass": done.path == "sequential",
        "manifest": done.manifest.location,
        "clips": [_object(c) for c in done.clips],
        "clip_count": len(done.clips),
        "jpegs": {"folder": done.jpeg_folder, "count": len(done.images)},
        "review_sheets": [r.location for r in done.reviews],
        "duration_seconds": round(done.duration_seconds, 3),
        "frames_decoded": done.frames,
        "decode_errors": done.decode_errors,
        "dead_frames": dict(sorted(Counter(d.reason for d in done.dead_frames).items())),
        "conversion_seconds": round(done.seconds, 3),
        "source_deleted": done.source_deleted,
    }
    if len(json.dumps(detail).encode()) > MAX_DETAIL_BYTES:
        detail["clips"] = []  # the manifest lists them all; clip_count says how many
        detail["clips_listed_in_manifest_only"] = True
    return detail


def _object(stored: StoredObject) -> dict[str, Any]:
    return {"location": stored.location, "bytes": stored.size, "sha256": stored.sha256}
