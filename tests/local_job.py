"""Run one source through the library into a local folder, as the CLI does."""

from __future__ import annotations

import tempfile
from pathlib import Path

from avi2mp4.conversion.one_pass import JobResult, run_job
from avi2mp4.conversion.outcome import Converted, Rejected
from avi2mp4.conversion.owner import Conversion
from avi2mp4.conversion.pool import PoolClipRunner
from avi2mp4.conversion.ports import Runtime
from avi2mp4.errors import Avi2Mp4Error, by_name
from avi2mp4.settings import PipelineConfig
from avi2mp4.storage.local import LocalSource, LocalStore
from avi2mp4.storage.port import SourceRef, Store


def run_local_job(src: Path, out: Path, cfg: PipelineConfig | None = None, key: str | None = None) -> JobResult:
    """Run one source through the one pass with a LocalStore under ``out``, as the CLI names it."""
    source = LocalSource(src, key or src.name).current()
    return run_job(src, source, LocalStore(out), cfg or PipelineConfig())


def convert_with_jobs(src: Path, source: SourceRef, store: Store, cfg: PipelineConfig, jobs: int) -> JobResult:
    """The CLI's ``convert --jobs N`` on one file: clip jobs on a process pool when the recording
    can be cut, else one pass; a rejection raises its error, as the one pass does."""
    local = LocalSource(src, source.key)
    work = Path(tempfile.gettempdir())
    outcome = Conversion(local, cfg, Runtime(store, work, clips=PoolClipRunner(jobs, local, store, work))).run()
    if isinstance(outcome, Rejected):
        raise (by_name(outcome.error) or Avi2Mp4Error)(outcome.reason)
    assert isinstance(outcome, Converted) and outcome.job is not None, outcome
    return outcome.job
