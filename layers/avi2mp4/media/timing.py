"""Presentation timestamps for decoded frames, whatever the container claims.

AVI stores decode timestamps only, so with B-frames (packed DivX, H.264 in AVI) decoded frames come
back with out-of-order or missing pts, and the MP4 muxer refuses them. The decoder does emit frames
in presentation order, so the k-th decoded frame's time is the smallest packet timestamp not yet
taken: a min-heap of packet timestamps, popped once per frame, gives monotonic presentation times
and keeps real gaps (zero-byte "dropped frame" chunks of VFR captures push no timestamp).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction


@dataclass
class FrameClock:
    """Assigns each decoded frame a strictly increasing timestamp in ``time_base`` units."""

    frame_ticks: int
    """Nominal frame duration in ticks; used when the heap runs dry and to step past duplicates."""
    _pending: list[int] = field(default_factory=list)
    _last: int | None = None
    _origin: int | None = None
    _step: int | None = None  # the last step the packets showed (2 ticks for 30 fps in a 60 fps header)

    def push(self, ts: int | None) -> None:
        """Record the timestamp of a packet that was sent to the decoder."""
        if ts is not None:
            heapq.heappush(self._pending, ts)

    def forget(self, ts: int | None) -> None:
        """Take back a pushed timestamp whose packet failed to decode (it yields no frame)."""
        if ts is not None and ts in self._pending:
            self._pending.remove(ts)
            heapq.heapify(self._pending)

    def next(self) -> int:
        """Timestamp of the next decoded frame, relative to the first frame (which gets 0)."""
        ts = heapq.heappop(self._pending) if self._pending else None
        if self._last is not None and (ts is None or ts <= self._last):
            # Dry heap (decoder emitted more frames than packets) or a duplicate timestamp:
            # step one frame on (as the stream has been stepping), so the output stays monotonic.
            ts = self._last + (self._step or self.frame_ticks)
        elif self._last is not None and ts is not None:
            self._step = ts - self._last
        if ts is None:
            ts = 0
        if self._origin is None:
            self._origin = ts
        self._last = ts
        return ts - self._origin

    @classmethod
    def starting_at(cls, frame_ticks: int, origin: int) -> FrameClock:
        """A clock whose timestamps are relative to ``origin`` (a recording's first frame) rather
        than to the first frame it sees: a clip job that starts mid-recording times its frames as
        the single pass would."""
        clock = cls(frame_ticks)
        clock._origin = origin
        return clock

    @property
    def pending(self) -> int:
        return len(self._pending)


def frame_ticks(time_base: Fraction, fps: Fraction) -> int:
    """One frame's duration in ``time_base`` ticks (at least 1)."""
    return max(1, round(1 / (fps * time_base)))


def played_rate(steps: Mapping[int, int], time_base: Fraction, fps: Fraction) -> tuple[int, Fraction]:
    """The step between frames that decoding showed most often (``steps``: ticks -> frames), and
    the rate the frames play at: the header's ``fps`` unless decoding showed another step (a
    header may give the field rate, 60, of a 30 fps H.264 stream whose frames are two ticks apart)."""
    nominal = frame_ticks(time_base, fps)
    ticks = max(steps, key=lambda step: steps[step]) if steps else nominal
    return ticks, (fps if ticks == nominal else 1 / (ticks * time_base))
