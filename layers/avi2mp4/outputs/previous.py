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
from ..storage.port import SourceRef, Store, Target
from .names import OutputLayout, display_key

CLAIM_SECONDS = 3600.0
"""How long a claim holds without its run: longer than any invocation (900 s) or upload."""


@dataclass(frozen=True)
class OwnedKey:
    target: Target
    key: str


@dataclass(frozen=True)
class Claim:
    """Who holds a layout's names while a conversion writes under them."""

    bucket: str | None
    key: str
    run: str
    """The run that took it (a clip-job execution's name; empty for a one-pass conversion)."""
    expires_at: float


def previous_source(store: Store, layout: OutputLayout) -> tuple[str | None, str] | None:
    """(bucket, key) of the source whose manifest is at the layout's manifest key, if any."""
    source = _manifest_source(store, layout)
    if source is None:
        return None
    bucket = source.get("bucket")
    return (bucket if isinstance(bucket, str) else None), str(source["key"])


def completed_by(store: Store, layout: OutputLayout, source: SourceRef) -> bool:
    """Whether the layout's manifest is that of exactly this source: the same object, the same
    version (or ETag). Then the set is complete, and nothing may undo it."""
    found = _manifest_source(store, layout)
    if found is None:
        return False
    same = (found.get("bucket"), found.get("key"), found.get("size")) == (source.bucket, display_key(source.key),
                                                                           source.size)  # fmt: skip
    return same and (found.get("version_id"), found.get("etag")) == (source.version_id, source.etag)


def _manifest_source(store: Store, layout: OutputLayout) -> dict[str, object] | None:
    data = store.get_bytes("video", layout.manifest_key)
    if data is None:
        return None
    try:
        source = json.loads(data)["source"]
        str(source["key"])
    except (ValueError, KeyError, TypeError):
        return None  # unreadable: nobody's; it will be replaced
    return source if isinstance(source, dict) else None


def claim(
    store: Store,
    layout: OutputLayout,
    source: SourceRef,
    now: Callable[[], float] = time.time,
    run: str = "",
    hold_seconds: float = CLAIM_SECONDS,
) -> None:
    """Take the prefix for ``source`` before anything is written, or raise OutputConflict.

    A claim object, created only if absent, keeps two sources from writing at once (``rec.avi``
    and ``rec.AVI`` uploaded together); it is ours to take over when it names this source (an
    earlier attempt) or has expired (a killed run). Then another source's complete result is
    refused, and a previous result of this source stops looking complete (its manifest goes
    first) before it is overwritten. ``release`` gives the claim back. ``run`` names the run that
    holds it, so that a clean-up removes only what its own run wrote."""
    where = layout.key(layout.stem)
    record = json.dumps({"source": {"bucket": source.bucket, "key": source.key}, "run": run,
                         "expires_at": now() + hold_seconds}).encode()  # fmt: skip
    if not store.create_bytes("video", layout.claim_key, record):
        holder = holder_of(store, layout)
        if (
            holder is not None
            and (holder.bucket, holder.key) != (source.bucket, source.key)
            and holder.expires_at > now()
        ):
            raise OutputConflict(f"{_name(holder.bucket, holder.key)} is being converted to the same names ({where}.*) "
                                 "right now: two sources cannot share outputs; rename one of them")  # fmt: skip
        store.put_bytes("video", layout.claim_key, record, hashlib.sha256(record).hexdigest(), "application/json")
    previous = previous_source(store, layout)  # as the manifest names it
    if previous is not None and previous != (source.bucket, display_key(source.key)):
        release(store, layout)
        raise OutputConflict(f"its outputs would replace those of {_name(*previous)} (both are named {where}.*): "
                             "two sources cannot share outputs; rename one of them")  # fmt: skip
    store.delete("video", layout.manifest_key)


def release(store: Store, layout: OutputLayout, run: str | None = None) -> None:
    """Give the claim back (``run``: only if that run still holds it)."""
    if run is not None:
        holder = holder_of(store, layout)
        if holder is None or holder.run != run:
            return
    store.delete("video", layout.claim_key)


def _name(bucket: str | None, key: str) -> str:
    return f"s3://{bucket}/{key}" if bucket else key


def holder_of(store: Store, layout: OutputLayout) -> Claim | None:
    """Who holds the layout's claim, if anyone (an unreadable claim is nobody's)."""
    data = store.get_bytes("video", layout.claim_key)
    try:
        claim = json.loads(data or b"")
        source = claim["source"]
        return Claim(source["bucket"], str(source["key"]), str(claim.get("run", "")), float(claim["expires_at"]))
    except (ValueError, KeyError, TypeError):
        return None  # gone meanwhile, or unreadable: nobody's


def owned_keys(store: Store, layout: OutputLayout) -> list[OwnedKey]:
    """Every key in the store that carries one of the layout's output names."""
    video = store.list_keys("video", layout.video_listing_prefix)
    image = store.list_keys("image", layout.image_folder)
    return [OwnedKey("video", k) for k in video if layout.owns("video", k)] + [
        OwnedKey("image", k) for k in image if layout.owns("image", k)
    ]


def remove(store: Store, keys: list[OwnedKey]) -> None:
    targets: tuple[Target, ...] = ("video", "image")
    for target in targets:
        batch = sorted({k.key for k in keys if k.target == target})
        if batch:
            store.delete_many(target, batch)
