"""A one-line progress bar for terminals; silence everywhere else."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ..pipeline import Progress

BAR_WIDTH = 28
REFRESH_SECONDS = 0.2


class ProgressBar:
    """Redraws ``name [#####     ]  42%  00:50/02:00  3.1x`` on one line of ``stream``."""

    def __init__(self, name: str, stream: TextIO = sys.stderr) -> None:
        self.name, self.stream = name, stream
        self.started = time.monotonic()
        self._drawn = 0.0

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self._drawn < REFRESH_SECONDS:
            return
        self._drawn = now
        elapsed = max(now - self.started, 1e-6)
        speed = p.seconds / elapsed
        if p.expected_seconds and p.expected_seconds > 0:
            share = min(p.seconds / p.expected_seconds, 1.0)
            bar = "#" * round(share * BAR_WIDTH)
            line = (f"{self.name} [{bar:<{BAR_WIDTH}}] {share:4.0%} "
                    f"{_clock(p.seconds)}/{_clock(p.expected_seconds)} {speed:.1f}x")  # fmt: skip
        else:  # the header gave no duration: show what we know
            line = f"{self.name} {_clock(p.seconds)} {p.frames} frames {speed:.1f}x"
        self.stream.write("\r" + line[:120].ljust(80))
        self.stream.flush()

    def clear(self) -> None:
        if self._drawn:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"
