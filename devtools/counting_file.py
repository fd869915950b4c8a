"""A local file that counts the bytes read from it: what shows that a plan reads the header and
the index, not the body (tests and bench/bench_parallel.py)."""

from __future__ import annotations

from pathlib import Path


class CountingFile:
    def __init__(self, path: Path) -> None:
        self.fh, self.bytes = path.open("rb"), 0

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.bytes += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.fh.seek(offset, whence)

    def tell(self) -> int:
        return self.fh.tell()

    def close(self) -> None:
        self.fh.close()
