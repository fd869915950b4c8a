"""A moto server over real HTTP on loopback, started by the tests, and per-test buckets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from avi2mp4.settings import PipelineConfig
from devtools.local_aws import LocalAws
from tests.integration.stack import Stack, make_stack


@pytest.fixture(scope="session")
def aws() -> Iterator[LocalAws]:
    with LocalAws() as server:
        yield server


@pytest.fixture
def stack(aws: LocalAws, tmp_path: Path) -> Stack:
    # Small clips so that splitting is exercised in seconds, not minutes.
    return make_stack(aws, tmp_path, PipelineConfig(clip_seconds=1.0, split_after_seconds=2.0))
