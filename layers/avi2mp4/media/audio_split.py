"""Decoded audio as one sample-exact timeline, cut into ranges at clip boundaries.

AAC encodes 1024-sample frames, so routing encoded packets to clips loses or shifts up to a frame
at every boundary (and more where packets straddle it). Cutting the *decoded* samples instead
gives each clip exactly the samples of its own time span, encoded by the clip's own AAC encoder.
Sample 0 is the time of the first video frame; samples past the last frame are never taken, so the
audio ends with the picture.
"""

from __future__ import annotations

import numpy as np
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler

SAMPLE_FORMAT = "fltp"  # AAC's own input: the encoder then needs no conversion


class AudioSplitter:
    """Collects decoded audio; ``take(end)`` hands out the samples up to ``end`` in order."""

    def __init__(self, rate: int, layout: str) -> None:
        self.rate, self.layout = rate, layout
        self._resampler = AudioResampler(format=SAMPLE_FORMAT, layout=layout, rate=rate)
        self._chunks: list[np.ndarray] = []  # (channels, samples) float32, in order
        self.taken = 0
        """Samples handed out so far (the next sample's index)."""
        self.received = 0
        """Samples collected so far."""

    def start_at(self, position: int, floor: int) -> None:
        """Before the first ``add``: the first sample's position on the recording's timeline (a clip
        job decodes from mid-recording). Nothing before ``floor`` is wanted; a start after it is
        padded with silence from ``floor``, so the clip's audio still begins with its picture."""
        start = min(position, floor)
        self.taken = self.received = start
        if position > start:
            channels = len(AudioFrame(format=SAMPLE_FORMAT, layout=self.layout, samples=0).layout.channels)
            self._chunks.append(np.zeros((channels, position - start), dtype=np.float32))
            self.received = position

    def add(self, frame: AudioFrame) -> None:
        frame.pts = None  # the resampler times by sample count; decoders' pts can jump
        for out in self._resampler.resample(frame):
            data = out.to_ndarray()
            self._chunks.append(data)
            self.received += data.shape[1]

    def take(self, end: int) -> AudioFrame | None:
        """The samples from ``taken`` up to ``end`` (or what has arrived) as one frame, or None."""
        wanted = min(end, self.received) - self.taken
        if wanted <= 0:
            return None
        parts, got = [], 0
        while got < wanted:
            chunk = self._chunks[0]
            need = wanted - got
            if chunk.shape[1] <= need:
                parts.append(self._chunks.pop(0))
                got += chunk.shape[1]
            else:
                parts.append(chunk[:, :need])
                self._chunks[0] = chunk[:, need:]
                got = wanted
        self.taken += wanted
        frame = AudioFrame.from_ndarray(np.ascontiguousarray(np.concatenate(parts, axis=1)),
                                        format=SAMPLE_FORMAT, layout=self.layout)  # fmt: skip
        frame.sample_rate = self.rate
        return frame
