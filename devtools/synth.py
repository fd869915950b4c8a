"""Synthetic videos written with PyAV from numpy frames, for tests that need known pixels."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.frame import VideoFrame
from av.video.stream import VideoStream


def write_gray_levels(path: Path, levels: Iterable[int], size: tuple[int, int] = (64, 48), fps: int = 25,
                      codec: str = "mjpeg", pix_fmt: str = "yuvj420p") -> Path:  # fmt: skip
    """One flat frame per level: frame i's mean luma identifies it after any lossy round trip."""
    width, height = size
    with av.open(str(path), "w", format="avi") as out:
        stream = out.add_stream(codec, rate=fps)
        assert isinstance(stream, VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.time_base = Fraction(1, fps)
        for i, level in enumerate(levels):
            rgb = np.full((height, width, 3), level, dtype=np.uint8)
            frame = VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def identity_levels(count: int) -> list[int]:
    """Levels far enough apart (>= 20) that neighbours never get confused, cycling through 8."""
    return [30 + 25 * (i % 8) for i in range(count)]


def write_corridor(path: Path, frames: int, motion: Iterable[range], size: tuple[int, int] = (320, 240),
                   fps: int = 25, seed: int = 5) -> Path:  # fmt: skip
    """An unchanging corridor (a static picture with live sensor noise) that someone crosses during
    each range of ``motion`` frames (a bright box moving across): the case for --min-change."""
    width, height = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    corridor = np.stack([(xx * 200 // width) + 20, (yy * 150 // height) + 40, np.full_like(xx, 90)], axis=-1)
    moving = {i: (i - r.start) / max(1, len(r) - 1) for r in motion for i in r}
    with av.open(str(path), "w", format="avi") as out:
        stream = out.add_stream("mjpeg", rate=fps)
        assert isinstance(stream, VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuvj420p"
        stream.time_base = Fraction(1, fps)
        for i in range(frames):
            rgb = corridor + rng.normal(0, 3, corridor.shape)
            if i in moving:
                x0 = int(moving[i] * (width - 60))
                rgb[height // 3 : height // 3 + 80, x0 : x0 + 60] = (240, 220, 200)
            frame = VideoFrame.from_ndarray(np.clip(rgb, 0, 255).astype(np.uint8), format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path
