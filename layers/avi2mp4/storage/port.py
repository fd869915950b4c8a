"""The storage port: what the job needs from wherever outputs go. No PyAV, numpy or boto3 here,
so both adapters (``local``, ``s3``) and the handler can import it cheaply."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

Target = Literal["video", "image"]


@dataclass(frozen=True)
class SourceRef:
    """Where the source came from: a bucket and key, or a local path (bucket None). The version
    (or, unversioned, the ETag) names exactly the bytes that were converted."""

    key: str
    size: int
    bucket: str | None = None
    etag: str | None = None
    version_id: str | None = None


@dataclass(frozen=True)
class StoredObject:
    """An output as written: its location and what verification read back."""

    key: str
    size: int
    sha256: str
    location: str
    """``s3://bucket/key`` or a local path."""


class Store(Protocol):
    """Writes outputs and proves they arrived intact. Implementations must be thread-safe."""

    max_key_bytes: int
    """The longest key the store takes, in UTF-8 bytes."""
    max_name_bytes: int
    """The longest ``/``-separated part of a key it takes (a file system's file name)."""

    def location(self, target: Target, key: str) -> str:
        """Where a key is, as people and tools name it (``s3://bucket/key`` or a path)."""
        ...

    def put_file(self, target: Target, key: str, path: Path, sha256: str) -> StoredObject:
        """Store the file at ``path`` (and delete it locally); verify size and checksum."""
        ...

    def put_bytes(self, target: Target, key: str, data: bytes, sha256: str, content_type: str) -> StoredObject:
        """Store a small object (the manifest) and verify it."""
        ...

    def verify(self, target: Target, key: str, size: int, sha256: str) -> StoredObject:
        """Prove an output written earlier (by another process, say) is there with this size and
        checksum; raise VerificationError otherwise."""
        ...

    def delete(self, target: Target, key: str) -> None:
        """Remove an output (used to undo a failed job); a missing key is not an error."""
        ...

    def delete_many(self, target: Target, keys: list[str]) -> None:
        """Remove many outputs (batched where the store can); missing keys are not an error."""
        ...

    def create_bytes(self, target: Target, key: str, data: bytes) -> bool:
        """Write a small object only if ``key`` does not exist yet; False if it does. (A store that
        cannot write conditionally writes anyway and returns True.)"""
        ...

    def get_bytes(self, target: Target, key: str) -> bytes | None:
        """A small object's bytes (a previous manifest), or None if there is none."""
        ...

    def list_keys(self, target: Target, prefix: str) -> list[str]:
        """Every key that starts with ``prefix``."""
        ...
