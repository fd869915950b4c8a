"""Every clip read back by an independent decoder before the source may go: the ffmpeg binary that
imageio-ffmpeg ships (a separate FFmpeg build from PyAV's libraries), not our own code agreeing
with itself. It decodes every stream of the clip and counts the video frames.

It runs on the upload threads while encoding goes on, single-threaded, so it mostly uses time the
encoder leaves idle (bench/bench_pipeline.py measures what it adds).
"""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

from ..errors import EncoderUnavailable, VerificationError

_FRAME = re.compile(r"^frame=(\d+)$", re.MULTILINE)
TIMEOUT_SECONDS = 900


@functools.cache
def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise EncoderUnavailable("imageio-ffmpeg is not installed: clips cannot be read back") from exc
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def read_back(path: Path, expected_frames: int) -> None:
    """Raise VerificationError unless ``path`` decodes without an error into ``expected_frames``."""
    command = [ffmpeg_exe(), "-nostdin", "-v", "error", "-nostats", "-progress", "pipe:1", "-threads", "1",
               "-i", str(path), "-map", "0", "-f", "null", "-"]  # fmt: skip
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VerificationError(f"{path.name}: the independent decoder could not run: {exc}") from exc
    errors = proc.stderr.strip()
    if proc.returncode != 0 or errors:
        raise VerificationError(f"{path.name}: the independent decoder reports: {errors[:300] or proc.returncode}")
    counts = _FRAME.findall(proc.stdout)
    frames = int(counts[-1]) if counts else 0
    if frames != expected_frames:
        raise VerificationError(f"{path.name}: read back {frames} frames, wrote {expected_frames}")
