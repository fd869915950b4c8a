"""``avi2mp4 convert --jobs N``: a long recording's clip jobs on a process pool, on one machine.

Each child runs ``Conversion.run_clip``, the very step a Step Functions clip task runs, so what
passes here passes there; the parent waits for every report and the conversion's finish follows in
the parent. Processes, not threads: decoding and x264 hold the GIL in places, and a crash in one
clip job must not take the others' memory with it. Not in the Lambda image.
"""

from __future__ import annotations

import multiprocessing
import queue
import shutil
import signal
import tempfile
import uuid
from multiprocessing.pool import Pool
from pathlib import Path

from ..pipeline import Progress, ProgressHandler, StopCheck
from ..storage.port import Store
from .clip_job import ClipReport
from .owner import Conversion
from .plan import Plan
from .ports import Runtime, SourceAccess

STOP_CHECK_SECONDS = 0.5
"""How often the waiting parent honours a stop request (a signal) while the clip jobs run."""


class PoolClipRunner:
    """Runs the clip jobs of a plan on ``jobs`` processes. ``source`` and ``store`` travel to the
    children, so they must be picklable (a local file, a LocalStore)."""

    def __init__(self, jobs: int, source: SourceAccess, store: Store, work: Path,
                 progress: ProgressHandler | None = None, stop: StopCheck | None = None) -> None:  # fmt: skip
        self.jobs, self.source, self.store, self.work = jobs, source, store, work
        self.progress, self.stop = progress, stop

    def run_id(self, identity: str) -> str:
        del identity  # one run per call here: nothing to deduplicate
        return f"pool-{uuid.uuid4().hex}"

    def run(self, plan: Plan) -> None:
        work = Path(tempfile.mkdtemp(prefix="avi2mp4-jobs-", dir=self.work))  # the children's work folders
        done: queue.SimpleQueue[ClipReport | BaseException] = queue.SimpleQueue()
        # spawn: a fork of this process (threads of its own: progress, logging) could inherit held locks.
        pool: Pool = multiprocessing.get_context("spawn").Pool(min(self.jobs, len(plan.clips)),
                                                                initializer=_ignore_sigint)  # fmt: skip
        reports: list[ClipReport] = []
        try:
            for span in plan.clips:
                pool.apply_async(_clip, (self.source, self.store, work, plan, span.index),
                                 callback=done.put, error_callback=done.put)  # fmt: skip
            seconds = 0.0
            while len(reports) < len(plan.clips):
                try:
                    item = done.get(timeout=STOP_CHECK_SECONDS)
                except queue.Empty:
                    if self.stop is not None:
                        self.stop()
                    continue
                if isinstance(item, BaseException):
                    raise item
                reports.append(item)
                seconds += item.duration_seconds
                if self.progress is not None:
                    self.progress(Progress(item.last_frame + 1, seconds, plan.duration_seconds))
            pool.close()
        finally:
            pool.terminate()  # a failure or a stop: the other clip jobs end now (the clean-up follows)
            pool.join()
            shutil.rmtree(work, ignore_errors=True)


def _clip(source: SourceAccess, store: Store, work: Path, plan: Plan, clip: int) -> ClipReport:
    """In a child: the clip job, as a Step Functions clip task runs it."""
    return Conversion(source, plan.config, Runtime(store, work)).run_clip(plan, clip)


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group; the parent decides, and ends the children itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
