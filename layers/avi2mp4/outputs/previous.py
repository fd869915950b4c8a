"""What a video's prefix held before this run: whose outputs they are, and every key of them.

Two sources must never share outputs (``cam/rec.avi`` and ``cam/rec.AVI`` map to the same names),
and a re-run must leave exactly what its own manifest lists. The previous manifest names its
source; the store's listing, filtered by the layout's own names, finds outputs no manifest lists
(a run killed before its manifest, a longer recording's extra clips and JPEGs).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import OutputConflict
from ..storage.port import Store, Target
from .manifest import SourceRef
from .names import OutputLayout

CLAIM_SECONDS = 3600.0
"""How long a claim holds without its run: longer than any invocation (900 s) or upload."""


@dataclass(frozen=True)
class OwnedKey:
    target: Target
    key: str


def previous_source(store: Store, layout: OutputLayout) -> tuple[str | None, str] | None:
    """(bucket, key) of the source whose manifest is at the layout's manifest key, if any."""
    data = store.get_bytes("video", layout.manifest_key)
    if data is None:
        return None
    try:
        source = json.loads(data)["source"]
        return source.get("bucket"), str(source["key"])
    except (ValueError, KeyError, TypeError):
        return None  # unreadable: nobody's; it will be replaced


def claim(store: Store, layout: OutputLayout, source: SourceRef, now: Callable[[], float] = time.time) -> None:
    """Take the prefix for ``source`` before anything is written, or raise OutputConflict.

    A claim object, created only if absent, keeps two sources from writing at once (``rec.avi``
    and ``rec.AVI`` uploaded together); it is ours to take over when it names this source (an
    earlier attempt) or has expired (a killed run). Then another source's complete result is
    refused, and a previous result of this source stops looking complete (its manifest goes
    first) before it is overwritten. ``release`` gives the claim back."""
    where = layout.key(layout.stem)
    record = json.dumps({"source": {"bucket": source.bucket, "key": source.key},
                         "expires_at": now() + CLAIM_SECONDS}).encode()  # fmt: skip
    if not store.create_bytes("video", layout.claim_key, record):
        holder = _claim_holder(store, layout)
        if holder is not None and holder[0] != (source.bucket, source.key) and holder[1] > now():
            raise OutputConflict(f"{_name(*holder[0])} is being converted to the same names ({where}.*) right now: "
                                 "two sources cannot share outputs; rename one of them")  # fmt: skip
        store.put_bytes("video", layout.claim_key, record, hashlib.sha256(record).hexdigest(), "application/json")
    previous = previous_source(store, layout)
    if previous is not None and previous != (source.bucket, source.key):
        release(store, layout)
        raise OutputConflict(f"its outputs would replace those of {_name(*previous)} (both are named {where}.*): "
                             "two sources cannot share outputs; rename one of them")  # fmt: skip
    store.delete("video", layout.manifest_key)


def release(store: Store, layout: OutputLayout) -> None:
    store.delete("video", layout.claim_key)


def _name(bucket: str | None, key: str) -> str:
    return f"s3://{bucket}/{key}" if bucket else key


def _claim_holder(store: Store, layout: OutputLayout) -> tuple[tuple[str | None, str], float] | None:
    data = store.get_bytes("video", layout.claim_key)
    try:
        claim = json.loads(data or b"")
        return (claim["source"]["bucket"], claim["source"]["key"]), float(claim["expires_at"])
    except (ValueError, KeyError, TypeError):
        return None  # gone meanwhile, or unreadable: nobody's


def owned_keys(store: Store, layout: OutputLayout) -> list[OwnedKey]:
    """Every key in the store that carries one of the layout's output names."""
    found = [OwnedKey("video", k) for k in store.list_keys("video", layout.video_listing_prefix)
             if layout.owns("video", k) and not _another_videos_single_clip(store, layout, k)]  # fmt: skip
    found += [OwnedKey("image", k) for k in store.list_keys("image", layout.image_folder) if layout.owns("image", k)]
    return found


def _another_videos_single_clip(store: Store, layout: OutputLayout, key: str) -> bool:
    """``rec_part000.mp4`` is also the whole video of a source named ``rec_part000.avi``."""
    if not key.endswith(".mp4") or "_part" not in key[len(layout.key(layout.stem)) :]:
        return False
    return store.get_bytes("video", key.removesuffix(".mp4") + ".manifest.json") is not None


def remove(store: Store, keys: list[OwnedKey]) -> None:
    targets: tuple[Target, ...] = ("video", "image")
    for target in targets:
        batch = sorted({k.key for k in keys if k.target == target})
        if batch:
            store.delete_many(target, batch)
