"""A moto server over real HTTP on loopback, started by the tests, and per-test buckets."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from avi2mp4.settings import PipelineConfig
from devtools.lambda_image import build_task_root
from devtools.local_aws import LocalAws
from tests.integration.stack import Stack, make_stack


@pytest.fixture(scope="session")
def built_task_root() -> Iterator[Path]:
    # Not under pytest's tmp_path: that is private to root (0700) and `nobody` must read the code.
    base = Path(tempfile.mkdtemp(prefix="avi2mp4-image-test-"))
    base.chmod(0o755)
    try:
        yield build_task_root(base / "task")
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def aws() -> Iterator[LocalAws]:
    with LocalAws() as server:
        yield server


@pytest.fixture
def stack(aws: LocalAws, tmp_path: Path) -> Stack:
    # Small clips so that splitting is exercised in seconds, not minutes.
    return make_stack(aws, tmp_path, PipelineConfig(clip_seconds=1.0, split_after_seconds=2.0))
