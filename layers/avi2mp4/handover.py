"""What a conversion hands over, by role, never by a user-facing name: each finished output in
the work folder (a clip, a JPEG, a review sheet page) and the fate of each sampled frame."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class OutputFile:
    """A finished output in the work folder: a clip (``index`` = clip number), a kept JPEG
    (``index`` = source frame index) or a review sheet page (``index`` = page = 120 s segment;
    ``split``: one of several pages)."""

    kind: Literal["clip", "jpeg", "review"]
    index: int
    path: Path
    size: int
    sha256: str
    split: bool = False
    """Clips only: one of the clips of a split video (else the whole video)."""
    frames: int = 0
    """Clips only: how many video frames it holds."""
    packet_md5: tuple[str, ...] = ()
    """Clips only: each video packet's MD5, when the live read-back decoded them."""


@dataclass(frozen=True)
class KeptFrame:
    """A sampled frame that became a JPEG."""

    index: int
    pts_seconds: float
    sharpness: float = 0.0
    """Variance of the Laplacian of its luma thumbnail (``labeling.judgements.sharpness``)."""
    change: np.ndarray | None = field(default=None, compare=False, repr=False)
    """Its coarse picture (``labeling.judgements.change_thumbnail``) when --min-change is on."""
    pixels_md5: str = ""
    """MD5 of the written JPEG's decoded pixels (CVAT's checksum of an image)."""


@dataclass(frozen=True)
class DeadFrame:
    index: int
    reason: str


OutputHandler = Callable[[OutputFile], None]
"""Takes ownership of a finished output's file."""


def describe_file(kind: Literal["clip", "jpeg", "review"], index: int, path: Path, split: bool = False,
                  frames: int = 0, packet_md5: tuple[str, ...] = ()) -> OutputFile:  # fmt: skip
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return OutputFile(kind, index, path, path.stat().st_size, digest.hexdigest(), split, frames, packet_md5)
