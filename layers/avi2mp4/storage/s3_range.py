"""One S3 object as a seekable, read-only file, fetched in ranged GETs: what lets PyAV read an
AVI's header and index, then seek to a clip, without downloading the recording (the groundwork of
the parallel path for long recordings, docs/long-recordings.md).

Reads are served from block-aligned ranges kept in a small LRU cache: FFmpeg's demuxer reads in
small pieces (32 KB) and jumps between the header, the index at the end and the data, and a GET per
small read would make thousands of requests. ``bytes_fetched`` and ``requests`` say what it cost.
With ``readahead`` > 0, reading block after block makes the next blocks arrive on a thread while
these are decoded (a clip job reads its clip front to back); close the file to stop that thread.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError, IncompleteReadError

from ..errors import StorageError
from .s3 import TRANSPORT, read_retrying

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MiB = 1024 * 1024


class S3RangeFile(io.RawIOBase):
    def __init__(self, client: S3Client, bucket: str, key: str, *, version_id: str | None = None,
                 size: int | None = None, block: int = MiB, cache_blocks: int = 16,
                 readahead: int = 0) -> None:  # fmt: skip
        super().__init__()
        self.client, self.bucket, self.key, self.version_id = client, bucket, key, version_id
        self.block, self.cache_blocks = block, cache_blocks
        self.readahead = min(readahead, cache_blocks // 2)  # what is fetched ahead must fit the cache
        self.size = size if size is not None else self._head_size()
        self._pos = 0
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._ahead: dict[int, Future[bytes]] = {}
        self._pool = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="avi2mp4-readahead") if self.readahead else None
        )
        self._last_block = -2
        self._lock = threading.Lock()  # the counters are updated from the read-ahead thread too
        self.bytes_fetched = 0
        self.requests = 0
        self.prefetched_hits = 0
        """Blocks that were already on their way (or there) when the reader asked for them."""

    # ---- io.RawIOBase ------------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self.size:
            index, start = divmod(self._pos, self.block)
            data = self._block(index)[start:]
            n = min(len(data), len(view) - done)
            view[done : done + n] = data[:n]
            done += n
            self._pos += n
        return done

    # ---- internals ---------------------------------------------------------------------------
    def _head_size(self) -> int:
        try:
            if self.version_id:
                head = self.client.head_object(Bucket=self.bucket, Key=self.key, VersionId=self.version_id)
            else:
                head = self.client.head_object(Bucket=self.bucket, Key=self.key)
            return int(head["ContentLength"])
        except (ClientError, *TRANSPORT) as exc:
            raise StorageError(f"cannot read s3://{self.bucket}/{self.key}: {exc}") from exc

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        super().close()

    def _block(self, index: int) -> bytes:
        sequential, self._last_block = index == self._last_block + 1, index
        if sequential and self._pool is not None:
            for stale in [k for k in self._ahead if k < index]:  # the reader went elsewhere
                self._ahead.pop(stale).cancel()
            last = (self.size - 1) // self.block
            for ahead in range(index + 1, min(index + self.readahead, last) + 1):
                if ahead not in self._cache and ahead not in self._ahead:
                    self._ahead[ahead] = self._pool.submit(self._fetch, ahead)
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        pending = self._ahead.pop(index, None)
        if pending is not None:
            self.prefetched_hits += 1
            return self._keep(index, pending.result())
        return self._keep(index, self._fetch(index))

    def _keep(self, index: int, data: bytes) -> bytes:
        self._cache[index] = data
        if len(self._cache) > self.cache_blocks:
            self._cache.popitem(last=False)
        return data

    def _fetch(self, index: int) -> bytes:
        first = index * self.block
        last = min(first + self.block, self.size) - 1
        wanted = f"bytes={first}-{last}"

        def read() -> bytes:
            if self.version_id:
                answer = self.client.get_object(Bucket=self.bucket, Key=self.key, Range=wanted,
                                                VersionId=self.version_id)  # fmt: skip
            else:
                answer = self.client.get_object(Bucket=self.bucket, Key=self.key, Range=wanted)
            data = answer["Body"].read()
            if len(data) != last - first + 1:  # the connection broke mid-read without saying so
                raise IncompleteReadError(actual_bytes=len(data), expected_bytes=last - first + 1)
            return data

        try:
            data = read_retrying(f"s3://{self.bucket}/{self.key} bytes {first}-{last}", read)
        except ClientError as exc:
            raise StorageError(f"cannot read s3://{self.bucket}/{self.key} bytes {first}-{last}: {exc}") from exc
        with self._lock:
            self.requests += 1
            self.bytes_fetched += len(data)
        return data
