"""One source file -> outputs in a store -> manifest. Shared by the CLI and the Lambda handler.

Outputs are stored concurrently while decoding goes on; the manifest is written last, only after
every output was stored and verified, so a manifest means "complete". A re-run first takes the
previous manifest away (so a half-replaced result never looks complete) and, once its own manifest
is written, removes what the previous run left that this one did not write: the prefix then holds
exactly what the manifest lists. On any failure everything under the prefix is removed (best
effort) and the error propagates; the source is never touched here: deleting it is the caller's
decision, after this returns.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .handover import OutputFile
from .media.readback import FileReadBack
from .outputs import previous
from .outputs.manifest import Manifest, SourceRef, build_manifest
from .outputs.names import OutputLayout
from .pipeline import PipelineResult, ProgressHandler, StopCheck, process_video
from .settings import PipelineConfig
from .storage.port import Store, StoredObject, Target

log = logging.getLogger(__name__)

UPLOAD_WORKERS = 8


@dataclass(frozen=True)
class JobResult:
    source: SourceRef
    result: PipelineResult
    manifest: Manifest
    manifest_object: StoredObject
    clips: list[StoredObject]
    images: list[StoredObject]
    seconds: float


@dataclass(frozen=True)
class _Upload:
    target: Target
    key: str
    output: OutputFile
    future: Future[StoredObject]


def run_job(
    src: Path,
    source: SourceRef,
    store: Store,
    cfg: PipelineConfig,
    *,
    tmp_root: Path | None = None,
    progress: ProgressHandler | None = None,
    stop: StopCheck | None = None,
    conversion: dict[str, Any] | None = None,
) -> JobResult:
    """Convert the local file ``src`` (known to users as ``source``) and store every output.

    ``stop`` is called at every decoded frame and may raise to end the job (a signal, a time
    budget): the job then fails like any other, its outputs removed."""
    started = time.monotonic()
    layout = OutputLayout.for_key(source.key)
    previous.claim(store, layout, source)  # raises OutputConflict before anything is written
    workdir = Path(tempfile.mkdtemp(prefix="avi2mp4-job-", dir=tmp_root))
    uploads: list[_Upload] = []
    with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS, thread_name_prefix="avi2mp4-store") as pool:

        def on_output(out: OutputFile) -> None:
            target, key = output_key(layout, out)
            uploads.append(
                _Upload(target, key, out, pool.submit(store_output, store, target, key, out, cfg.verify_clips))
            )

        try:
            result = process_video(src, workdir, cfg, on_output=on_output, progress=progress, stop=stop)
            clips = {u.output.index: u.future.result() for u in uploads if u.output.kind == "clip"}
            images = {u.output.index: u.future.result() for u in uploads if u.output.kind == "jpeg"}
            reviews = [
                u.future.result() for u in sorted(uploads, key=lambda u: u.output.index) if u.output.kind == "review"
            ]
            manifest = build_manifest(source, result, clips, images, cfg, conversion, reviews)
            data = manifest.to_json()
            manifest_object = store.put_bytes(
                "video", layout.manifest_key, data, hashlib.sha256(data).hexdigest(), "application/json"
            )
            written = {(u.target, u.key) for u in uploads} | {("video", layout.manifest_key)}
            stale = [k for k in previous.owned_keys(store, layout) if (k.target, k.key) not in written]
            previous.remove(store, stale)  # what an earlier, longer run left
        except BaseException:
            _undo(store, layout, uploads)
            raise
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            with contextlib.suppress(Exception):  # an expired claim is taken over; never block on this
                previous.release(store, layout)
    return JobResult(
        source=source,
        result=result,
        manifest=manifest,
        manifest_object=manifest_object,
        clips=[clips[c.index] for c in result.clips],
        images=[images[f.index] for f in result.jpegs],
        seconds=time.monotonic() - started,
    )


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
        # if the read-back fails, the job fails and its undo removes the stored copy.
        reading = FileReadBack(out.path, out.frames, out.packet_md5 or None)
        try:
            stored = store.put_file(target, key, out.path, out.sha256)
        except BaseException:
            reading.cancel()
            raise
        reading.wait()
    log.info("stored %s", stored.location)
    return stored


def _undo(store: Store, layout: OutputLayout, uploads: list[_Upload]) -> None:
    """Remove what a failed job wrote, and what an earlier run left under the prefix, so that
    nothing half-done looks complete."""
    for upload in uploads:
        upload.future.cancel()
    for upload in uploads:
        with contextlib.suppress(Exception):  # a failed upload may still have left a partial
            upload.future.result()
    keys = [previous.OwnedKey(u.target, u.key) for u in uploads]
    try:
        keys += previous.owned_keys(store, layout)
    except Exception as exc:  # keep undoing what we know of; say what may be left
        log.warning("could not list %s* after a failure: %s", layout.key(layout.stem), exc)
    keys.append(previous.OwnedKey("video", layout.manifest_key))
    try:
        previous.remove(store, keys)
    except Exception as exc:
        log.warning("could not remove the outputs of %s after a failure: %s", layout.key(layout.stem), exc)
