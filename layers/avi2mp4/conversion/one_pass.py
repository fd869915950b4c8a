"""One source file -> outputs in a store -> manifest, in one decode pass.

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
import dataclasses
import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..media.passthrough import CopyNotPossible
from ..outputs import previous
from ..outputs.labeling_tools import store_labeling_files
from ..outputs.manifest import Manifest, build_manifest
from ..outputs.names import OutputLayout
from ..pipeline import PipelineResult, ProgressHandler, StopCheck, process_video
from ..settings import PipelineConfig
from ..storage.port import SourceRef, Store, StoredObject
from .storing import StoredOutputs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    source: SourceRef
    result: PipelineResult
    manifest: Manifest
    manifest_object: StoredObject
    clips: list[StoredObject]
    images: list[StoredObject]
    seconds: float


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
    budget): the job then fails like any other, its outputs removed.

    A stream chosen for copying that turns out not to be copyable (``CopyNotPossible``: a packet
    that does not decode, timestamps out of order) is converted again, encoded, after what the
    first attempt stored is removed; the manifest says why."""
    started = time.monotonic()
    run = functools.partial(_run_job, src, source, store, tmp_root=tmp_root, progress=progress, stop=stop,
                            conversion=conversion, started=started)  # fmt: skip
    try:
        return run(cfg)
    except CopyNotPossible as exc:
        log.warning("%s: its video cannot be copied after all (%s); encoding it", source.key, exc)
        return run(dataclasses.replace(cfg, video_copy="never"), shown=cfg, not_copied=f"copy abandoned: {exc}")


def _run_job(src: Path, source: SourceRef, store: Store, cfg: PipelineConfig, *, tmp_root: Path | None,
             progress: ProgressHandler | None, stop: StopCheck | None, conversion: dict[str, Any] | None,
             started: float, shown: PipelineConfig | None = None,
             not_copied: str | None = None) -> JobResult:  # fmt: skip
    """``run_job`` with ``cfg``; ``shown``: the settings the manifest gives (the user's), ``not_copied``:
    why the video was encoded after all."""
    layout = OutputLayout.for_key(source.key)
    previous.claim(store, layout, source)  # raises OutputConflict before anything is written
    with StoredOutputs(store, layout, cfg.verify_clips, tmp_root, "avi2mp4-job-") as outputs:
        try:
            try:
                result = process_video(src, outputs.work, cfg, on_output=outputs.hand_over, progress=progress,
                                       stop=stop)  # fmt: skip
                if not_copied is not None and result.setup is not None:
                    result.setup = result.setup.not_copied(not_copied)
                clips, images = outputs.stored("clip"), outputs.stored("jpeg")
                reviews = [stored for _, stored in sorted(outputs.stored("review").items())]
                manifest = build_manifest(source, result, clips, images, shown or cfg, conversion, reviews)
                store_labeling_files(lambda key, data: outputs.put_json(key, data, "image"), layout, manifest)
                manifest_object = outputs.put_json(layout.manifest_key, manifest.to_json())
            except BaseException:
                outputs.undo(_everything_owned(store, layout))
                raise
            # The manifest is written: the set is complete, and nothing from here on undoes it.
            _tidy(store, layout, {(k.target, k.key) for k in outputs.written})
        finally:
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


def _tidy(store: Store, layout: OutputLayout, written: set[tuple[str, str]]) -> None:
    """Remove what an earlier, longer run left under the prefix. A failure here leaves extra
    objects beside a complete set (the next run removes them), so it is said, not raised."""
    try:
        stale = [k for k in previous.owned_keys(store, layout) if (k.target, k.key) not in written]
        previous.remove(store, stale)
    except Exception as exc:
        log.warning("%s is complete, but what an earlier run left could not be removed: %s",
                    layout.manifest_key, exc)  # fmt: skip


def _everything_owned(store: Store, layout: OutputLayout) -> list[previous.OwnedKey]:
    """What an earlier run left under the prefix, and the manifest: after a failure nothing
    half-done may look complete."""
    keys = [previous.OwnedKey("video", layout.manifest_key)]
    try:
        keys += previous.owned_keys(store, layout)
    except Exception as exc:  # keep undoing what we know of; say what may be left
        log.warning("could not list %s* after a failure: %s", layout.key(layout.stem), exc)
    return keys
