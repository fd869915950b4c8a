"""A source object version in S3, as a conversion reads and settles it: looked up (is it still the
version the event named?), read by ranges (planning, clip jobs), downloaded for one pass, deleted
once converted, tagged when rejected."""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ..errors import InsufficientStorage, SourceGone, Superseded
from .port import SourceRef
from .s3 import SourceObject, delete_source, download_source, head_source, tag_source
from .s3_range import S3RangeFile

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

READAHEAD_BLOCKS = 4
"""1 MiB blocks fetched ahead of a clip job's reading (its download overlaps its decoding)."""
SPACE_FACTOR = 1.5
"""/tmp needed for one pass, as a share of the source: the source, plus the clips not yet uploaded
(at most split_after seconds of H.264, far smaller than the MJPEG or raw video AVIs usually hold)
and the JPEGs in flight."""


class S3Source:
    """``s3://bucket/key``, at ``version_id`` if the request named one (None: whatever is current,
    which ``current`` pins down); ``size`` if known (a plan's), else ``current`` finds it."""

    def __init__(self, client: S3Client, bucket: str, key: str, version_id: str | None = None,
                 size: int | None = None) -> None:  # fmt: skip
        self.client, self.bucket, self.key, self.version_id, self.size = client, bucket, key, version_id, size

    @property
    def name(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def current(self) -> SourceRef:
        """The current object at the key. In a versioned bucket a deleted object's versions live on,
        so only "current" tells whether it still waits for conversion."""
        head = head_source(self.client, self.bucket, self.key)  # SourceGone when it is not there
        if self.version_id and head.version_id != self.version_id:
            raise Superseded(f"{self.name}: version {self.version_id} is no longer current (a newer upload, or a "
                             "delete); the current one has its own event")  # fmt: skip
        self.version_id, self.size = head.version_id, head.size
        return SourceRef(key=self.key, size=head.size, bucket=self.bucket, etag=head.etag, version_id=head.version_id)

    @contextlib.contextmanager
    def ranges(self, readahead: bool = False) -> Iterator[S3RangeFile]:
        reader = S3RangeFile(self.client, self.bucket, self.key, version_id=self.version_id, size=self.size,
                             readahead=READAHEAD_BLOCKS if readahead else 0)  # fmt: skip
        try:
            yield reader
        finally:
            reader.close()  # a warm container keeps no read-ahead thread
            log.info("read %s by ranges: %d bytes in %d requests", self.name, reader.bytes_fetched, reader.requests)

    @contextlib.contextmanager
    def fetch(self, source: SourceRef, work: Path) -> Iterator[Path]:
        require_space(work, source.size)
        local = work / local_name(self.key)
        try:
            download_source(self.client, _object(source), local)
            yield local
        finally:
            local.unlink(missing_ok=True)

    def delete_converted(self, source: SourceRef) -> bool:
        return delete_source(self.client, _object(source))

    def tag_rejected(self, source: SourceRef, error: str) -> None:
        tag_source(self.client, _object(source), {REJECTED_TAG: error})


REJECTED_TAG = "avi2mp4-rejected"


def _object(source: SourceRef) -> SourceObject:
    if source.bucket is None or source.etag is None:
        raise SourceGone(f"{source.key} is not an S3 object")
    return SourceObject(source.bucket, source.key, source.size, source.etag, source.version_id)


def local_name(key: str) -> str:
    """The key's file name, if the file system can hold it (error messages name the file)."""
    name = PurePosixPath(key).name
    return name if 0 < len(name.encode()) <= 200 else "source.avi"


def require_space(tmp_dir: Path, size: int) -> None:
    free = shutil.disk_usage(tmp_dir).free
    if size * SPACE_FACTOR > free:
        raise InsufficientStorage(
            f"{tmp_dir} has {free / 1e6:.0f} MB free; a {size / 1e6:.0f} MB source needs about "
            f"{size * SPACE_FACTOR / 1e6:.0f} MB: raise the function's EphemeralStorage"
        )
