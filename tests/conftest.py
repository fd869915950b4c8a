"""Shared fixtures. Media is generated per session into a temp folder; nothing is committed."""

from __future__ import annotations

from pathlib import Path

import pytest

from avi2mp4.config import PipelineConfig
from avi2mp4.job import JobResult, convert_source
from avi2mp4.manifest import SourceRef
from avi2mp4.store import LocalStore


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


def convert_local(src: Path, out: Path, cfg: PipelineConfig | None = None, key: str | None = None) -> JobResult:
    """Run one source through the job with a LocalStore under ``out``."""
    source = SourceRef(key=key or src.name, size=src.stat().st_size)
    return convert_source(src, source, LocalStore(out), cfg or PipelineConfig())
