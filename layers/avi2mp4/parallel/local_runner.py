"""``avi2mp4 convert --jobs N``: the clip-job path on one machine, with a process pool.

The same start / clip job / finish functions the Step Functions path runs, so what passes here
passes there. A recording that is short, or cannot be cut exactly, takes the single pass (its
manifest says which and why). Processes, not threads: decoding and x264 hold the GIL in places,
and a crash in one clip job must not take the others' memory with it.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import shutil
import signal
import tempfile
import time
from multiprocessing.pool import Pool
from pathlib import Path

from ..errors import NotCuttable
from ..job import JobResult, run_job
from ..outputs.manifest import SourceRef
from ..pipeline import Progress, ProgressHandler, StopCheck
from ..settings import PipelineConfig
from ..storage.port import Store
from .clip_job import ClipReport, run_clip
from .finish import clean_up, finish, start
from .plan import Plan

log = logging.getLogger(__name__)

STOP_CHECK_SECONDS = 0.5
"""How often the waiting parent honours a stop request (a signal) while the clip jobs run."""


def convert_with_jobs(src: Path, source: SourceRef, store: Store, cfg: PipelineConfig, jobs: int, *,
                      tmp_root: Path | None = None, progress: ProgressHandler | None = None,
                      stop: StopCheck | None = None) -> JobResult:  # fmt: skip
    """Convert ``src`` as clip jobs on ``jobs`` processes (``store`` must be picklable, e.g. a
    LocalStore), or in one pass when it is short or cannot be cut."""
    started = time.monotonic()
    plan = start(src, source, store, cfg)
    if not plan.parallel:
        why = plan.sequential_because
        return run_job(src, source, store, cfg, tmp_root=tmp_root, progress=progress, stop=stop,
                       conversion={"path": "sequential", "why": why} if why else None)  # fmt: skip
    try:
        _run_clip_jobs(src, plan, store, cfg, jobs, tmp_root, progress, stop)
        return finish(plan, store, cfg, started)
    except NotCuttable as exc:
        clean_up(store, source.key)
        log.warning("%s: %s; converting it in one pass", source.key, exc)
        return run_job(src, source, store, cfg, tmp_root=tmp_root, progress=progress, stop=stop,
                       conversion={"path": "sequential", "why": str(exc)})  # fmt: skip
    except BaseException:
        clean_up(store, source.key)
        raise


def _run_clip_jobs(src: Path, plan: Plan, store: Store, cfg: PipelineConfig, jobs: int, tmp_root: Path | None,
                   progress: ProgressHandler | None, stop: StopCheck | None) -> list[ClipReport]:  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="avi2mp4-jobs-", dir=tmp_root))  # the children's work folders
    done: queue.SimpleQueue[ClipReport | BaseException] = queue.SimpleQueue()
    # spawn: a fork of this process (threads of its own: progress, logging) could inherit held locks.
    pool: Pool = multiprocessing.get_context("spawn").Pool(min(jobs, len(plan.clips)), initializer=_ignore_sigint)
    reports: list[ClipReport] = []
    try:
        for span in plan.clips:
            pool.apply_async(run_clip, (src, plan, span.index, store, cfg), {"tmp_root": work},
                             callback=done.put, error_callback=done.put)  # fmt: skip
        seconds = 0.0
        while len(reports) < len(plan.clips):
            try:
                item = done.get(timeout=STOP_CHECK_SECONDS)
            except queue.Empty:
                if stop is not None:
                    stop()
                continue
            if isinstance(item, BaseException):
                raise item
            reports.append(item)
            seconds += item.duration_seconds
            if progress is not None:
                progress(Progress(item.last_frame + 1, seconds, plan.duration_seconds))
        pool.close()
    finally:
        pool.terminate()  # a failure or a stop: the other clip jobs end now (finish cleans up)
        pool.join()
        shutil.rmtree(work, ignore_errors=True)
    return sorted(reports, key=lambda r: r.clip)


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group; the parent decides, and ends the children itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
