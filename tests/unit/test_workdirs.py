"""The /tmp sweep removes only work folders that are provably stale and the function's own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from handler import workdirs


def test_sweep_keeps_live_and_foreign_folders(tmp_path: Path) -> None:
    live = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    dead_pid = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_pid.wait()
    try:
        other_live = tmp_path / f"{workdirs.PREFIX}{live.pid}-{workdirs.process_start(live.pid)}-abc"
        killed = tmp_path / f"{workdirs.PREFIX}{dead_pid.pid}-12345-def"
        reused_pid = tmp_path / f"{workdirs.PREFIX}{live.pid}-1-ghi"  # same pid, another start: stale
        cli_job = tmp_path / "avi2mp4-job-xyz"  # the CLI's (or a test's): never ours to sweep
        mine_active = workdirs.create(tmp_path)
        mine_left = tmp_path / f"{mine_active.name}-left"
        for folder in (other_live, killed, reused_pid, cli_job, mine_left):
            folder.mkdir()
            (folder / "f000030.jpg").write_bytes(b"x")

        removed = workdirs.sweep_stale(tmp_path)

        assert sorted(removed) == sorted([killed, reused_pid, mine_left])
        assert other_live.exists() and cli_job.exists() and mine_active.exists()
        workdirs.remove(mine_active)
        assert not mine_active.exists()
    finally:
        assert live.stdin is not None
        live.stdin.close()
        live.wait()
