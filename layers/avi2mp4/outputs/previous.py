"""What a video's prefix held before this run: whose outputs they are, and every key of them.

Two sources must never share outputs (``cam/rec.avi`` and ``cam/rec.AVI`` map to the same names),
and a re-run must leave exactly what its own manifest lists. The previous manifest names its
source; the store's listing, filtered by the layout's own names, finds outputs no manifest lists
(a run killed before its manifest, a longer recording's extra clips and JPEGs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..errors import OutputConflict
from ..storage.port import Store, Target
from .manifest import SourceRef
from .names import OutputLayout


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


def claim(store: Store, layout: OutputLayout, source: SourceRef) -> None:
    """Refuse if another source's complete result is there; else make a previous result of this
    source stop looking complete (its manifest goes first) before it is overwritten."""
    previous = previous_source(store, layout)
    if previous is not None and previous != (source.bucket, source.key):
        bucket, key = previous
        where = f"s3://{bucket}/{key}" if bucket else key
        names = layout.key(layout.stem)
        raise OutputConflict(f"its outputs would replace those of {where} (both are named {names}.*): "
                             "two sources cannot share outputs; rename one of them")  # fmt: skip
    store.delete("video", layout.manifest_key)


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
