"""Test media: generated with, and read back by, the ffmpeg binary that imageio-ffmpeg ships.

That binary is independent of PyAV's libraries (a separate FFmpeg build), so what it reads back is
a second opinion on our outputs, not our own code agreeing with itself.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import imageio_ffmpeg
import numpy as np


@cache
def ffmpeg() -> str:
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def run_ffmpeg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ffmpeg(), "-hide_banner", "-nostdin", *args], capture_output=True, text=True, check=False)


def make(path: Path, *args: str) -> Path:
    """``ffmpeg -y <args> path``; raises with ffmpeg's message on failure."""
    proc = run_ffmpeg("-v", "error", "-y", *args, str(path))
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed making {path.name}: {proc.stderr}")
    return path


def lavfi_video(seconds: float, size: str = "320x240", rate: int = 25, src: str = "testsrc2") -> list[str]:
    return ["-f", "lavfi", "-i", f"{src}=size={size}:rate={rate}:duration={seconds}"]


def lavfi_audio(seconds: float, rate: int = 44100) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={rate}:duration={seconds}"]


@dataclass(frozen=True)
class FrameInfo:
    n: int
    pts_time: float
    key: bool
    pict_type: str


@dataclass(frozen=True)
class StreamReport:
    """What the independent decoder saw in a file."""

    frames: list[FrameInfo]
    errors: str
    header: str

    @property
    def count(self) -> int:
        return len(self.frames)

    def video_line(self) -> str:
        return next(line for line in self.header.splitlines() if "Video:" in line)

    def audio_line(self) -> str | None:
        return next((line for line in self.header.splitlines() if "Audio:" in line), None)

    @property
    def size(self) -> tuple[int, int]:
        m = re.search(r", (\d+)x(\d+)", self.video_line())
        assert m, self.video_line()
        return int(m.group(1)), int(m.group(2))

    @property
    def duration(self) -> float:
        last = self.frames[-1]
        step = (last.pts_time - self.frames[0].pts_time) / max(1, self.count - 1)
        return last.pts_time + step


_SHOWINFO = re.compile(r"n:\s*(\d+).*?pts_time:\s*([-\d.e]+).*?iskey:\s*(\d).*?type:\s*(\w)")


def read_back(path: Path) -> StreamReport:
    """Decode every video frame of ``path`` with the ffmpeg binary: per-frame times, key flags, errors."""
    proc = run_ffmpeg("-i", str(path), "-map", "0:v:0", "-vf", "showinfo", "-f", "null", "-")
    frames = [
        FrameInfo(int(m.group(1)), float(m.group(2)), m.group(3) == "1", m.group(4))
        for m in _SHOWINFO.finditer(proc.stderr)
    ]
    errors = run_ffmpeg("-v", "error", "-i", str(path), "-map", "0", "-f", "null", "-").stderr
    header = run_ffmpeg("-i", str(path)).stderr
    return StreamReport(frames, errors.strip(), header)


def count_source_frames(path: Path) -> int:
    """Frames the independent decoder gets from a source, timestamps passed through untouched."""
    proc = run_ffmpeg("-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "null", "-")
    counts = re.findall(r"frame=\s*(\d+)", proc.stderr)
    return int(counts[-1]) if counts else 0


def gray_frames(path: Path, width: int, height: int) -> np.ndarray:
    """Every decoded frame's luma (full range), frames x height x width, via the ffmpeg binary."""
    proc = subprocess.run(
        [ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough",
         "-vf", "scale=out_range=pc", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    return np.frombuffer(proc.stdout, dtype=np.uint8).reshape(-1, height, width)


def gray_means(path: Path, width: int, height: int) -> list[float]:
    """Mean luma of every decoded frame (full range), via the ffmpeg binary."""
    return [float(f.mean()) for f in gray_frames(path, width, height)]


def rgb_frame(path: Path, width: int, height: int, index: int = 0) -> np.ndarray:
    proc = subprocess.run(
        [ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-vf", f"select=eq(n\\,{index})",
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    return np.frombuffer(proc.stdout, dtype=np.uint8).reshape(height, width, 3)


def audio_samples(path: Path, rate: int) -> int:
    """Samples of the first audio stream as a player gets them (edit lists applied), at ``rate``."""
    proc = subprocess.run([ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", str(rate),
                           "-f", "s16le", "-"], capture_output=True, check=True)  # fmt: skip
    return len(proc.stdout) // 2


def stream_starts(path: Path) -> dict[str, float]:
    """Start time in seconds of the first video ("v") and audio ("a") stream, as the independent
    demuxer presents them to a player (edit lists applied)."""
    starts: dict[str, float] = {}
    for kind in ("v", "a"):
        probe = run_ffmpeg("-i", str(path), "-map", f"0:{kind}:0", "-c", "copy", "-f", "framecrc", "-")
        lines = probe.stdout.splitlines()
        tb = next((line for line in lines if line.startswith("#tb")), None)
        first = next((line for line in lines if line and not line.startswith("#")), None)
        if tb is not None and first is not None:
            num, den = tb.split(":", 1)[1].strip().split("/")
            starts[kind] = int(first.split(",")[2]) * int(num) / int(den)
    return starts


def container_duration(path: Path) -> float:
    """The duration a player shows: the container's (the longest stream's), from the demuxer."""
    m = re.search(r"Duration: (\d+):(\d+):([\d.]+)", run_ffmpeg("-i", str(path)).stderr)
    assert m, path
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
