"""Ground truth for the dead-frame detector: short clips with a known label on every frame.

Each clip strings together segments of one kind: moving scenes (alive), every kind of dead frame,
and the hard negatives that must stay alive (a night scene with one moving light, a static scene
with live sensor noise, a partial fade, 1-2 frame duplicates). MPEG-4 clips get a freeze that
crosses keyframes (the encoder refreshes the frozen picture) and a damaged packet whose frames are
smeared until the next keyframe. Frames are written with PyAV from numpy arrays.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.frame import PictureType, VideoFrame
from av.video.stream import VideoStream

DEAD_LABELS = ("black", "blank", "frozen", "damaged", "concealed")
ALIVE_LABELS = ("scene", "night", "noisy-static", "partial-fade", "duplicates", "resumed", "exposure", "low-light")
HARD_NEGATIVES = ("night", "noisy-static", "partial-fade", "duplicates", "resumed", "exposure", "low-light")
QUALITIES = {"mjpeg": (2, 5, 10), "mpeg4": (2, 4, 8, 12)}
"""Encoder quantizers the truth set is written at (qscale: lower is better)."""
FPS = 25
GOP = 12


@dataclass(frozen=True)
class TruthClip:
    path: Path
    codec: str
    labels: list[str]
    quality: int | None = None
    """Label of source frame i (its pts in 1/FPS units)."""


class _Scenes:
    """Deterministic synthetic pictures."""

    def __init__(self, width: int, height: int, seed: int) -> None:
        self.w, self.h = width, height
        self.rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:height, 0:width]
        self.xx, self.yy = xx, yy
        self.t = 0

    def moving(self) -> np.ndarray:
        self.t += 1
        t, xx, yy = self.t, self.xx, self.yy
        r = (xx * 255 // self.w + t * 5) % 256
        g = (yy * 255 // self.h + t * 3) % 256
        b = ((xx // 16 + yy // 16) % 2) * 160 + 40
        rgb = np.stack([r, g, np.broadcast_to(b, r.shape)], axis=-1).astype(np.uint8)
        x0, y0 = (t * 7) % (self.w - 48), (t * 5) % (self.h - 48)
        rgb[y0 : y0 + 48, x0 : x0 + 48] = (250, 250, 40)
        return rgb

    def flat(self, rgb: tuple[int, int, int], noise: float = 0.0) -> np.ndarray:
        frame = np.empty((self.h, self.w, 3), np.float32)
        frame[:] = rgb
        if noise:
            frame += self.rng.normal(0, noise, frame.shape)
        return np.clip(frame, 0, 255).astype(np.uint8)

    def night(self, i: int) -> np.ndarray:
        """Dark gradient (luma ~15-60) and one moving street light (~5 % of the picture)."""
        base = 15 + (self.yy * 45 // self.h) + (self.xx % 37 == 0) * 20
        rgb = np.stack([base, base, base + 5], axis=-1).astype(np.float32)
        cx, cy = 40 + (i * 6) % (self.w - 80), self.h // 3
        light = ((self.xx - cx) ** 2 + (self.yy - cy) ** 2) < (0.13 * self.h) ** 2
        rgb[light] = (255, 230, 160)
        rgb += self.rng.normal(0, 2, rgb.shape)
        return np.clip(rgb, 0, 255).astype(np.uint8)

    def noisy(self, still: np.ndarray, sigma: float = 4.0) -> np.ndarray:
        return np.clip(still.astype(np.float32) + self.rng.normal(0, sigma, still.shape), 0, 255).astype(np.uint8)

    def concealed(self) -> np.ndarray:
        """A live picture whose lower half the decoder filled with flat gray after losing data."""
        rgb = self.moving()
        rgb[self.h // 2 :] = 128
        return rgb

    def exposure(self, i: int) -> np.ndarray:
        """Auto-exposure hunting: the whole picture swings between dim and bright, still moving."""
        gain = 1.0 + 0.45 * float(np.sin(i / 3.0))
        swung: np.ndarray = np.clip(self.moving().astype(np.float32) * gain, 0, 255).astype(np.uint8)
        return swung

    def low_light(self, i: int) -> np.ndarray:
        """A dim, grainy scene (luma ~25-60) with a slowly moving shape: dark, not black."""
        base = 30 + (self.xx * 25 // self.w)
        rgb = np.stack([base, base, base], axis=-1).astype(np.float32)
        x0 = 20 + (i * 3) % (self.w - 80)
        rgb[self.h // 3 : self.h // 3 + 40, x0 : x0 + 40] += 25
        rgb += self.rng.normal(0, 6, rgb.shape)
        return np.clip(rgb, 0, 255).astype(np.uint8)


def _segments(s: _Scenes, codec: str) -> Iterator[tuple[str, np.ndarray]]:
    def scene(n: int) -> Iterator[tuple[str, np.ndarray]]:
        for _ in range(n):
            yield "scene", s.moving()

    yield from scene(40)
    for _ in range(15):
        yield "black", s.flat((6, 6, 6), noise=3)
    yield from scene(20)
    for _ in range(8):
        yield "blank", s.flat((128, 128, 128), noise=2)  # error concealment gray
    yield from scene(20)
    for _ in range(6):
        yield "blank", s.flat((0, 135, 0))  # zeroed YUV buffer: Y=U=V=0 renders green
    yield from scene(20)
    for _ in range(12):
        yield "blank", s.flat((16, 32, 230), noise=1)  # blue "no signal"
    yield from scene(20)
    for _ in range(3):
        yield "blank", s.flat((255, 255, 255))  # white flash
    yield from scene(20)
    still = s.moving()
    yield "scene", still
    for _ in range(34):  # crosses two keyframes of a 12-frame GOP
        yield "frozen", still.copy()
    yield from scene(20)
    for i in range(30):
        yield "night", s.night(i)
    static = s.moving()
    for _ in range(30):
        yield "noisy-static", s.noisy(static)
    for i in range(20):
        yield "partial-fade", (s.moving().astype(np.float32) * (1.0 - 0.03 * i)).astype(np.uint8)
    for _ in range(10):
        picture = s.moving()
        yield "duplicates", picture
        yield "duplicates", picture.copy()
    yield from scene(20)
    for _ in range(6):
        yield "concealed", s.concealed()
    yield from scene(20)
    for i in range(30):
        yield "exposure", s.exposure(i)
    for i in range(30):
        yield "low-light", s.low_light(i)
    # A feed stall on a noisy static scene: the picture repeats, then the live scene resumes on a
    # keyframe (marked "key" below: the writer forces an I-frame there).
    static = s.moving()
    for _ in range(10):
        yield "noisy-static", s.noisy(static)
    stalled = s.noisy(static)
    yield "noisy-static", stalled
    for _ in range(20):
        yield "frozen", stalled.copy()
    for i in range(20):
        yield ("resumed key" if i == 0 else "resumed"), s.noisy(static)
    # Fade to white: the fade itself is alive; the white it ends on is blank.
    for i in range(16):  # up to 85 % white: the picture's structure still shows
        a = 0.85 * i / 15
        yield "partial-fade", (s.moving().astype(np.float32) * (1 - a) + 255 * a).astype(np.uint8)
    for _ in range(6):
        yield "blank", s.flat((255, 255, 255))
    yield from scene(40)  # the damaged packet goes in here (MPEG-4)


def write_truth_clip(directory: Path, codec: str, size: tuple[int, int] = (320, 240), seed: int = 7,
                     quality: int | None = None) -> TruthClip:  # fmt: skip
    """Write one labelled clip (``mjpeg`` or ``mpeg4``, at quantizer ``quality``: default 3 for
    MJPEG, 2-4 for MPEG-4) and return its per-frame labels."""
    width, height = size
    path = directory / f"truth_{codec}_{width}x{height}_q{quality or 'default'}.avi"
    labels: list[str] = []
    with av.open(str(path), "w", format="avi") as out:
        stream = out.add_stream(codec, rate=FPS)
        assert isinstance(stream, VideoStream)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        stream.time_base = Fraction(1, FPS)
        stream.codec_context.gop_size = GOP
        q = str(quality) if quality is not None else None
        if codec == "mjpeg":
            stream.codec_context.options = {"qscale": q or "3"}
        else:
            stream.codec_context.options = {"qmin": q or "2", "qmax": q or "4"}
        for i, (label, rgb) in enumerate(_segments(_Scenes(width, height, seed), codec)):
            frame = VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            if label.endswith(" key"):
                label = label.removesuffix(" key")
                frame.pict_type = PictureType.I
            labels.append(label)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    if codec == "mpeg4":
        _damage_one_p_frame(path, labels)
    return TruthClip(path, codec, labels, quality)


def _damage_one_p_frame(path: Path, labels: list[str]) -> None:
    """Overwrite the middle of a P-frame in the last scene: it and the frames that reference it,
    up to the next keyframe, decode smeared."""
    data = bytearray(path.read_bytes())
    movi = data.find(b"movi")
    chunks: list[tuple[int, int]] = []
    at = data.find(b"00dc", movi)
    while at != -1 and len(chunks) < len(labels):
        size = struct.unpack_from("<I", data, at + 4)[0]
        chunks.append((at + 8, size))
        at = data.find(b"00dc", at + 8 + size + (size & 1))
    with av.open(str(path)) as container:
        keys = [i for i, p in enumerate(container.demux(video=0)) if p.size and p.is_keyframe]
    # The P-frame right after a keyframe in the last scene: the whole rest of its GOP is smeared.
    key = next(k for k in keys if k >= len(labels) - 40)
    target = key + 1
    next_key = next((k for k in keys if k > target), len(labels))
    start, size = chunks[target]
    data[start + size // 3 : start + size - 4] = bytes(((i * 151) & 0xFF) for i in range(size - 4 - size // 3))
    path.write_bytes(bytes(data))
    for i in range(target, next_key):
        labels[i] = "damaged"
