"""Output keys: pure functions from a source key to where its outputs go (design.md, contracts)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

AVI_SUFFIX = ".avi"


def is_avi(key: str) -> bool:
    """``.avi`` in any case: ``.AVI`` and ``.Avi`` uploads are just as real."""
    return key.lower().endswith(AVI_SUFFIX) and len(key) > len(AVI_SUFFIX)


@dataclass(frozen=True)
class OutputLayout:
    """Where the outputs of one source key live, below the video and image roots.

    ``cams/site 1/rec-001.avi`` -> prefix ``cams/site 1/``, stem ``rec-001``.
    """

    prefix: str
    stem: str

    @classmethod
    def for_key(cls, key: str) -> OutputLayout:
        path = PurePosixPath(key)
        parent = str(path.parent)
        prefix = "" if parent in (".", "/") else parent.strip("/") + "/"
        stem = path.name[: -len(path.suffix)] if path.suffix else path.name
        return cls(prefix=prefix, stem=stem)

    def key(self, name: str) -> str:
        """Full key of an output named relative to the prefix (``rec.mp4``, ``rec/rec_f000010.jpg``)."""
        return f"{self.prefix}{name}"

    @property
    def manifest_key(self) -> str:
        return f"{self.prefix}{self.stem}.manifest.json"
