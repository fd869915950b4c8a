"""Store-and-undo, for a one pass and a clip job alike: each finished output is stored (and read
back) on a thread pool while decoding goes on; what was stored can be undone after a failure.

Keys come from ``outputs.names`` by role (clip number, frame index), never from the work files.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import tempfile
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

from ..handover import OutputFile
from ..media.readback import FileReadBack
from ..outputs import previous
from ..outputs.names import OutputLayout
from ..outputs.previous import OwnedKey
from ..storage.port import Store, StoredObject, Target

log = logging.getLogger(__name__)

UPLOAD_WORKERS = 8

Kind = Literal["clip", "jpeg", "review"]


@dataclass(frozen=True)
class _Upload:
    target: Target
    key: str
    output: OutputFile
    future: Future[StoredObject]


class StoredOutputs:
    """The outputs of one pass under one layout. Use as a context manager: it holds the work folder
    (``work``) and the upload pool, and removes the folder on the way out.

    ``hand_over`` is the pass's ``OutputHandler``; ``stored`` waits for the uploads; ``put_json`` stores
    a small object (a manifest, a report) and counts it as written; ``undo`` removes what was written."""

    def __init__(self, store: Store, layout: OutputLayout, verify_clips: bool, tmp_root: Path | None,
                 prefix: str) -> None:  # fmt: skip
        self.store, self.layout, self.verify_clips = store, layout, verify_clips
        self.work = Path(tempfile.mkdtemp(prefix=prefix, dir=tmp_root))
        self._pool = ThreadPoolExecutor(max_workers=UPLOAD_WORKERS, thread_name_prefix="avi2mp4-store")
        self._uploads: list[_Upload] = []
        self._small: list[OwnedKey] = []

    def __enter__(self) -> StoredOutputs:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._pool.shutdown(wait=True)
        shutil.rmtree(self.work, ignore_errors=True)

    def hand_over(self, out: OutputFile) -> None:
        target, key = output_key(self.layout, out)
        future = self._pool.submit(store_output, self.store, target, key, out, self.verify_clips)
        self._uploads.append(_Upload(target, key, out, future))

    def stored(self, kind: Kind) -> dict[int, StoredObject]:
        """What was stored of one kind, by clip number, frame index or page (waits for it)."""
        return {u.output.index: u.future.result() for u in self._uploads if u.output.kind == kind}

    def put_json(self, key: str, data: bytes, target: Target = "video") -> StoredObject:
        self._small.append(OwnedKey(target, key))
        return self.store.put_bytes(target, key, data, hashlib.sha256(data).hexdigest(), "application/json")

    @property
    def written(self) -> list[OwnedKey]:
        return [OwnedKey(u.target, u.key) for u in self._uploads] + self._small

    def undo(self, also: Iterable[OwnedKey] = ()) -> None:
        """Remove everything written (uploads still running are waited for: a failed one may have
        left a partial) and ``also``; best effort, saying what may be left."""
        for upload in self._uploads:
            upload.future.cancel()
        for upload in self._uploads:
            with contextlib.suppress(Exception):
                upload.future.result()
        keys = [*self.written, *also]
        try:
            previous.remove(self.store, keys)
        except Exception as exc:
            log.warning("could not remove the outputs of %s after a failure (%d objects): %s",
                        self.layout.key(self.layout.stem), len(keys), exc)  # fmt: skip


def output_key(layout: OutputLayout, out: OutputFile) -> tuple[Target, str]:
    """Where a handed-over output is stored (its name from ``outputs.names``, by role)."""
    if out.kind == "clip":
        return "video", layout.clip_key(out.index, out.split)
    if out.kind == "review":
        return "video", layout.review_key(out.index, out.split)
    return "image", layout.jpeg_key(out.index)


def store_output(store: Store, target: Target, key: str, out: OutputFile, verify: bool) -> StoredObject:
    """Store one finished output; a clip is first read back by the independent decoder."""
    if out.kind != "clip" or not verify:
        stored = store.put_file(target, key, out.path, out.sha256)
    else:
        # The file read back (its packets against those checksummed live) while it is stored:
        # if the read-back fails, the pass fails and its undo removes the stored copy.
        reading = FileReadBack(out.path, out.frames, out.packet_md5 or None)
        try:
            stored = store.put_file(target, key, out.path, out.sha256)
        except BaseException:
            reading.cancel()
            raise
        reading.wait()
    log.info("stored %s", stored.location)
    return stored
