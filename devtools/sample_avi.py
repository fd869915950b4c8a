"""A generated sample AVI for the demo: MJPEG (full range, like most cameras) with PCM audio,
a moving scene, and a few dead stretches (black, frozen) for the labeling filter to find."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

AUDIO_RATE = 16_000


def make_sample_avi(path: Path, seconds: float, size: tuple[int, int] = (320, 240), fps: int = 25) -> Path:
    """Write ``seconds`` of sample video to ``path`` (an .avi)."""
    width, height = size
    frames = round(seconds * fps)
    yy, xx = np.mgrid[0:height, 0:width]
    samples_per_frame = AUDIO_RATE // fps
    with av.open(str(path), "w", format="avi") as out:
        video = out.add_stream("mjpeg", rate=fps)
        assert isinstance(video, VideoStream)
        video.width, video.height, video.pix_fmt = width, height, "yuvj422p"
        video.time_base = Fraction(1, fps)
        audio = out.add_stream("pcm_s16le", rate=AUDIO_RATE, layout="mono")
        assert isinstance(audio, AudioStream)
        frozen: np.ndarray | None = None
        for i in range(frames):
            second = i / fps
            if 3.0 <= second % 60 < 4.0:  # one black second a minute
                rgb = np.zeros((height, width, 3), np.uint8)
            elif 8.0 <= second % 60 < 10.0:  # two frozen seconds a minute
                frozen = frozen if frozen is not None else _scene(i, xx, yy)
                rgb = frozen
            else:
                frozen = None
                rgb = _scene(i, xx, yy)
            frame = VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
            tone = np.sin(2 * np.pi * 440 * (np.arange(samples_per_frame) + i * samples_per_frame) / AUDIO_RATE)
            pcm = (tone * 8000).astype(np.int16).reshape(1, -1)
            aframe = AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            aframe.sample_rate = AUDIO_RATE
            aframe.pts = i * samples_per_frame
            out.mux(audio.encode(aframe))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))
    return path


def _scene(i: int, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """A drifting colour gradient with a moving square: cheap, compressible, never uniform."""
    h, w = xx.shape
    r = (xx * 255 // w + i * 3) % 256
    g = (yy * 255 // h + i * 2) % 256
    b = ((xx + yy) // 4 + i) % 256
    rgb = np.stack([r, g, b], axis=-1).astype(np.uint8)
    x0, y0 = (i * 4) % (w - 40), (i * 3) % (h - 40)
    rgb[y0 : y0 + 40, x0 : x0 + 40] = (255, 255, 255)
    return rgb
