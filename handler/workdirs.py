"""Work folders of this function in /tmp, and the sweep that clears only provably stale ones.

A 900 s kill skips ``finally``, and Lambda may keep /tmp for the next invocation: what a killed
invocation left must go, but nothing else may. A folder's name says who made it: the process id
and that process's start time (a restarted runtime can get the same pid in Lambda's small pid
namespace). It is stale when no such process is alive, or when it is this process's own and no
invocation is using it. The CLI, tests and other tools use other names and are never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

PREFIX = "avi2mp4-lambda-"
_NAME = re.compile(rf"^{PREFIX}(\d+)-(\d+)-")
_active: set[Path] = set()
_lock = threading.Lock()  # a folder is made and registered before any sweep may look at it


def process_start(pid: int) -> int:
    """Start time of ``pid`` in clock ticks since boot (0 if unknown), or -1 if it is not running."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return -1
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[19])  # field 22, counted after the command name


def create(tmp_dir: Path) -> Path:
    pid = os.getpid()
    with _lock:
        path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{pid}-{process_start(pid)}-", dir=tmp_dir))
        _active.add(path)
    return path


def remove(path: Path) -> None:
    _active.discard(path)
    shutil.rmtree(path, ignore_errors=True)


def is_stale(path: Path) -> bool:
    match = _NAME.match(path.name)
    if match is None:
        return False  # not ours
    pid, started = int(match[1]), int(match[2])
    if pid == os.getpid() and started == process_start(pid):
        return path not in _active
    return process_start(pid) != started


def sweep_stale(tmp_dir: Path) -> list[Path]:
    """Remove the work folders that no live invocation owns; return what was removed."""
    with _lock:
        removed = [p for p in tmp_dir.glob(f"{PREFIX}*") if p.is_dir() and is_stale(p)]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed
