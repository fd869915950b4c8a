"""The CLI's side of storage: a local file as the source, and outputs in a local folder."""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..errors import SourceGone, StorageError, VerificationError
from .port import SourceRef, StoredObject, Target


def file_sha256(path: Path) -> str:
    """The file's SHA-256, read once per version of it (``convert`` asks before it converts, and the
    conversion asks again: a 2 GB recording is not read twice)."""
    stat = path.stat()
    return _sha256_of(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    del size, mtime_ns  # the cache key: a changed file is read again
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class LocalSource:
    """A file given to the CLI, known to users as ``key`` (its path below the folder given). It is
    read where it lies and never deleted or changed."""

    path: Path
    key: str

    @property
    def name(self) -> str:
        return str(self.path)

    def current(self) -> SourceRef:
        """The file as it is now; its "ETag" is its SHA-256 (names exactly the bytes converted, so
        ``convert`` can tell a file it already converted from one changed since)."""
        try:
            return SourceRef(key=self.key, size=self.path.stat().st_size, etag=file_sha256(self.path))
        except FileNotFoundError as exc:
            raise SourceGone(f"{self.path} does not exist") from exc

    @contextlib.contextmanager
    def ranges(self, readahead: bool = False) -> Iterator[Path]:
        del readahead  # the page cache reads ahead
        yield self.path

    @contextlib.contextmanager
    def fetch(self, source: SourceRef, work: Path) -> Iterator[Path]:
        del source, work  # already on disk
        yield self.path

    def delete_converted(self, source: SourceRef) -> bool:
        del source  # the CLI never deletes its inputs
        return False

    def tag_rejected(self, source: SourceRef, error: str) -> None:
        del source, error  # the CLI prints why instead


class LocalStore:
    """Outputs under ``root/video-mp4/`` and ``root/unlabeled-images/`` (the CLI's layout).

    Files appear atomically (written under a new, randomly named ``.partial`` file, then renamed),
    so a crash never leaves a file that looks complete. Nothing already at a path is opened for
    writing: the partial file is created exclusively (``mkstemp``: ``O_EXCL``), and the renames
    replace directory entries, so a symlink planted at an output's name is replaced, not followed.
    """

    FOLDERS: ClassVar[dict[Target, str]] = {"video": "video-mp4", "image": "unlabeled-images"}
    max_key_bytes = 3072  # PATH_MAX (4096), less room for the --out folder
    max_name_bytes = 255 - 17  # NAME_MAX of the common file systems, less the temporary ".XXXXXXXX.partial"

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, target: Target, key: str) -> Path:
        return self.root / self.FOLDERS[target] / key

    def location(self, target: Target, key: str) -> str:
        return str(self.path_of(target, key)) + ("/" if key.endswith("/") else "")

    def put_file(self, target: Target, key: str, path: Path, sha256: str) -> StoredObject:
        dst = self.path_of(target, key)
        size = path.stat().st_size
        fd, partial = self._partial(dst)
        try:
            try:
                path.replace(partial)  # one file system: the work file takes the partial's place
                os.close(fd)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                with os.fdopen(fd, "wb") as out, path.open("rb") as src:  # another: copied into our own file
                    shutil.copyfileobj(src, out, 1 << 20)
                path.unlink()
            partial.replace(dst)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.close(fd)
            _discard(partial)  # a full disk must not leave a half-written file behind
            raise StorageError(f"cannot write {dst}: {exc.strerror}") from exc
        return self._verified(dst, key, size, sha256)

    def put_bytes(self, target: Target, key: str, data: bytes, sha256: str, content_type: str) -> StoredObject:
        del content_type  # a local file has no content type
        dst = self.path_of(target, key)
        fd, partial = self._partial(dst)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            partial.replace(dst)
        except OSError as exc:
            _discard(partial)
            raise StorageError(f"cannot write {dst}: {exc.strerror}") from exc
        return self._verified(dst, key, len(data), sha256)

    def verify(self, target: Target, key: str, size: int, sha256: str) -> StoredObject:
        dst = self.path_of(target, key)
        if not dst.is_file():
            raise VerificationError(f"{dst} is missing")
        digest = hashlib.sha256()
        with dst.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise VerificationError(f"{dst}: its bytes differ from what was written")
        return self._verified(dst, key, size, sha256)

    def delete(self, target: Target, key: str) -> None:
        path = self.path_of(target, key)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        # A folder this emptied (a video's JPEG folder, its clip jobs' reports) goes too; rmdir
        # fails on a folder that still holds anything, so nothing else is touched.
        root = self.root / self.FOLDERS[target]
        for folder in path.parents:
            if folder == root or root not in folder.parents:
                break
            try:
                folder.rmdir()
            except OSError:
                break

    def delete_many(self, target: Target, keys: list[str]) -> None:
        for key in keys:
            self.delete(target, key)

    def create_bytes(self, target: Target, key: str, data: bytes) -> bool:
        path = self.path_of(target, key)
        self._folder(path)
        try:
            with path.open("xb") as fh:  # O_EXCL: exactly one writer wins
                fh.write(data)
        except FileExistsError:
            return False
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc.strerror}") from exc
        return True

    def get_bytes(self, target: Target, key: str) -> bytes | None:
        try:
            return self.path_of(target, key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read {self.path_of(target, key)}: {exc.strerror}") from exc

    def list_keys(self, target: Target, prefix: str) -> list[str]:
        root = self.root / self.FOLDERS[target]
        folder = (root / prefix).parent if not prefix.endswith("/") else root / prefix
        if not folder.is_dir():
            return []
        keys = (p.relative_to(root).as_posix() for p in folder.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and not k.endswith(".partial"))

    def _partial(self, dst: Path) -> tuple[int, Path]:
        """A new file beside ``dst``, created exclusively: its descriptor and path."""
        self._folder(dst)
        try:
            fd, name = tempfile.mkstemp(dir=dst.parent, prefix=f"{dst.name}.", suffix=".partial")
        except OSError as exc:
            raise StorageError(f"cannot write in {dst.parent}: {exc.strerror}") from exc
        return fd, Path(name)

    @staticmethod
    def _folder(dst: Path) -> None:
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {dst.parent}: {exc.strerror}") from exc

    @staticmethod
    def _verified(dst: Path, key: str, size: int, sha256: str) -> StoredObject:
        actual = dst.stat().st_size
        if actual != size:
            raise VerificationError(f"{dst}: wrote {size} bytes, found {actual}")
        return StoredObject(key=key, size=size, sha256=sha256, location=str(dst))


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
