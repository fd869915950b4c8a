"""The progress bar on a terminal (tqdm: it follows the terminal's width and redraws in place);
silence everywhere else."""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm

from ..pipeline import Progress

# Media seconds done / expected, with the speed in words: "3.1x real time" (the postfix).
BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]"
SHORT_FORMAT = BAR_FORMAT.replace(":.0f}", ":.1f}")  # under 10 s: tenths
UNKNOWN_FORMAT = "{desc} {n:.0f} s [{elapsed}{postfix}]"


class ProgressBar:
    """One file's bar: ``rec.avi (3/12)  42%|████      | 50/120 s [00:16<00:23, 3.1x real time]``."""

    def __init__(self, name: str, stream: TextIO = sys.stderr, position: tuple[int, int] = (1, 1),
                 width: int | None = None, refresh_seconds: float = 0.2) -> None:  # fmt: skip
        self.desc = f"{name} ({position[0]}/{position[1]})"
        self.stream, self.width, self.refresh = stream, width, refresh_seconds
        self._bar: tqdm[None] | None = None

    def __call__(self, p: Progress) -> None:
        if self._bar is None:
            expected = p.expected_seconds or 0.0
            known = expected > 0
            form = (BAR_FORMAT if expected >= 10 else SHORT_FORMAT) if known else UNKNOWN_FORMAT
            self._bar = tqdm(
                desc=self.desc, total=expected if known else None, unit="s", file=self.stream,
                bar_format=form, dynamic_ncols=self.width is None,
                ncols=self.width, mininterval=self.refresh, leave=False,
            )  # fmt: skip
        total = self._bar.total
        # Headers lie: never let the bar run past its end (or backwards).
        target = min(p.seconds, total) if total else p.seconds
        if target > self._bar.n:
            elapsed = self._bar.format_dict["elapsed"]
            if elapsed > 0:  # tqdm adds ", " before a postfix
                self._bar.set_postfix_str(f"{target / elapsed:.1f}x real time", refresh=False)
            self._bar.update(target - self._bar.n)

    def clear(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
