"""JPEG files encoded on a thread of their own, so that the decoding thread goes on decoding.

Only an RGB array that nothing else holds crosses the thread (``jpeg.jpeg_pixels`` makes it on the
caller's thread): no PyAV frame is shared between threads (one that was crashed PyAV once). The
written files are handed over on the caller's thread, in the order they were asked for; at most
``depth`` wait, so memory stays flat (a 1080p RGB picture is 6 MB).
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .jpeg import jpeg_bytes, pixels_md5


def _write(path: Path, rgb: np.ndarray, quality: int, taken: dt.datetime | None) -> tuple[Path, str]:
    data = jpeg_bytes(rgb, quality, taken)
    path.write_bytes(data)
    return path, pixels_md5(data)


class JpegWriter:
    """``write(index, path, rgb, taken)``; ``on_written(index, path, pixels_md5)`` follows on the
    caller's thread from a later ``write`` or from ``finish``; ``abort`` waits for what is under way
    and hands nothing over."""

    def __init__(self, quality: int, on_written: Callable[[int, Path, str], None], depth: int = 4) -> None:
        self.quality, self.on_written, self.depth = quality, on_written, depth
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="avi2mp4-jpeg")
        self._pending: collections.deque[tuple[int, Future[tuple[Path, str]]]] = collections.deque()

    def write(self, index: int, path: Path, rgb: np.ndarray, taken: dt.datetime | None = None) -> None:
        self._pending.append((index, self._pool.submit(_write, path, rgb, self.quality, taken)))
        self._hand_over(block=len(self._pending) > self.depth)

    def finish(self) -> None:
        try:
            while self._pending:
                self._hand_over(block=True)
        finally:
            self._pool.shutdown(wait=True)

    def abort(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()

    def _hand_over(self, block: bool) -> None:
        """Hand over the written files at the front of the line (the oldest at least, if ``block``)."""
        while self._pending and (block or self._pending[0][1].done()):
            index, future = self._pending.popleft()
            self.on_written(index, *future.result())  # a failed write raises here, on the caller's thread
            block = False
