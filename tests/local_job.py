"""Run one source through the library's job into a local folder, as the CLI does."""

from __future__ import annotations

from pathlib import Path

from avi2mp4.job import JobResult, run_job
from avi2mp4.outputs.manifest import SourceRef
from avi2mp4.settings import PipelineConfig
from avi2mp4.storage.local import LocalStore


def run_local_job(src: Path, out: Path, cfg: PipelineConfig | None = None, key: str | None = None) -> JobResult:
    """Run one source through the job with a LocalStore under ``out``."""
    source = SourceRef(key=key or src.name, size=src.stat().st_size)
    return run_job(src, source, LocalStore(out), cfg or PipelineConfig())
