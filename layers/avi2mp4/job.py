"""One source file -> outputs in a store -> manifest. Shared by the CLI and the Lambda handler.

Outputs are stored concurrently while decoding goes on; the manifest is written last, only after
every output was stored and verified, so a manifest means "complete". On any failure the outputs
already written are removed (best effort) and the error propagates; the source is never touched
here: deleting it is the caller's decision, after this returns.
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

from .config import PipelineConfig
from .deadframes import make_judge
from .layout import OutputLayout
from .manifest import Manifest, SourceRef, StoredObject, build_manifest
from .pipeline import OutputFile, PipelineResult, ProgressHandler, process_video
from .store import Store, Target

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


def convert_source(
    src: Path,
    source: SourceRef,
    store: Store,
    cfg: PipelineConfig,
    *,
    tmp_root: Path | None = None,
    progress: ProgressHandler | None = None,
) -> JobResult:
    """Convert the local file ``src`` (known to users as ``source``) and store every output."""
    started = time.monotonic()
    layout = OutputLayout.for_key(source.key)
    workdir = Path(tempfile.mkdtemp(prefix="avi2mp4-", dir=tmp_root))
    uploads: list[tuple[Target, str, Future[StoredObject]]] = []
    with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS, thread_name_prefix="avi2mp4-store") as pool:

        def on_output(out: OutputFile) -> None:
            target: Target = "video" if out.kind == "video" else "image"
            key = layout.key(out.name)
            uploads.append((target, out.name, pool.submit(store.put_file, target, key, out.path, out.sha256)))

        try:
            result = process_video(
                src, workdir, cfg, stem=layout.stem, on_output=on_output,
                judge=make_judge(cfg), progress=progress,
            )  # fmt: skip
            stored = {(target, name): fut.result() for target, name, fut in uploads}
            clips = {name: obj for (target, name), obj in stored.items() if target == "video"}
            images = {name: obj for (target, name), obj in stored.items() if target == "image"}
            manifest = build_manifest(source, result, clips, images, cfg)
            data = manifest.to_json()
            manifest_object = store.put_bytes(
                "video", layout.manifest_key, data, hashlib.sha256(data).hexdigest(), "application/json"
            )
        except BaseException:
            _undo(store, layout, uploads)
            raise
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return JobResult(
        source=source,
        result=result,
        manifest=manifest,
        manifest_object=manifest_object,
        clips=[clips[c.path.name] for c in result.clips],
        images=[images[f.name] for f in result.frames],
        seconds=time.monotonic() - started,
    )


def _undo(store: Store, layout: OutputLayout, uploads: list[tuple[Target, str, Future[StoredObject]]]) -> None:
    """Remove what a failed job wrote, so nothing half-done looks complete."""
    for fut in [f for _, _, f in uploads]:
        fut.cancel()
    for target, name, fut in uploads:
        if fut.cancelled():
            continue
        with contextlib.suppress(Exception):  # a failed upload may still have left a partial
            fut.result()
        try:
            store.delete(target, layout.key(name))
        except Exception as exc:  # keep undoing; say what is left behind
            log.warning("could not remove %s after a failure: %s", layout.key(name), exc)
    try:
        store.delete("video", layout.manifest_key)
    except Exception as exc:
        log.warning("could not remove %s after a failure: %s", layout.manifest_key, exc)
