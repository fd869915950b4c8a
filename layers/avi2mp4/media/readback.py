"""Every clip read back by an independent decoder before the source may go: the ffmpeg binary that
imageio-ffmpeg ships (a separate FFmpeg build from PyAV's libraries), not our own code agreeing
with itself.

Decoding every frame again costs about a tenth of the encoding's CPU, so it is done while the clip
is being encoded: ``LiveReadBack`` streams a copy of each packet (as NUT, over a pipe) into an
ffmpeg process that decodes them with one thread, in the time x264 leaves a core idle. When the
finished MP4 is handed over, ``read_back`` reads the file itself: every packet of the container,
the video copied and counted, the audio decoded (cheap) - proof that what is stored is what was
decoded.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import av
from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream

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


def _check(name: str, returncode: int, errors: str, progress: str, expected_frames: int) -> None:
    if returncode != 0 or errors.strip():
        raise VerificationError(f"{name}: the independent decoder reports: {errors.strip()[:300] or returncode}")
    counts = _FRAME.findall(progress)
    frames = int(counts[-1]) if counts else 0
    if frames != expected_frames:
        raise VerificationError(f"{name}: read back {frames} frames, wrote {expected_frames}")


def read_back(path: Path, expected_frames: int, decode_video: bool = True) -> None:
    """Raise VerificationError unless ``path`` reads without an error into ``expected_frames``.
    ``decode_video=False`` copies the video packets instead (their decoding was checked live)."""
    video = [] if decode_video else ["-c:v", "copy"]
    command = [ffmpeg_exe(), "-nostdin", "-v", "error", "-nostats", "-progress", "pipe:1", "-threads", "1",
               "-i", str(path), "-map", "0", *video, "-f", "null", "-"]  # fmt: skip
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VerificationError(f"{path.name}: the independent decoder could not run: {exc}") from exc
    _check(path.name, proc.returncode, proc.stderr, proc.stdout, expected_frames)


class LiveReadBack:
    """An ffmpeg process decoding a clip's video while it is written (see the module docstring)."""

    def __init__(self, workdir: Path, name: str, video: Stream) -> None:
        self.name = name
        self._errors = workdir / f"{name}.readback-errors"
        self._progress = workdir / f"{name}.readback-progress"
        command = [ffmpeg_exe(), "-nostdin", "-v", "error", "-nostats", "-progress", f"file:{self._progress}",
                   "-threads", "2", "-skip_loop_filter", "all", "-f", "nut", "-i", "pipe:0", "-map", "0:v",
                   "-f", "null", "-"]  # fmt: skip
        with self._errors.open("w") as errors:
            self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors)
        # The decoder should use the time x264 leaves idle, not take turns with it. Set from here:
        # a preexec_fn is unsafe in a process with threads (this one has several).
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, self._proc.pid, 19)
        assert self._proc.stdin is not None
        self._pipe: OutputContainer = av.open(self._proc.stdin, "w", format="nut")
        self._video = self._pipe.add_stream_from_template(video)

    def feed(self, packet: Packet[Any]) -> None:
        """A copy of ``packet`` (muxing hands the original over to the clip's muxer)."""
        copy: Packet[Any] = Packet(bytes(packet))
        copy.pts, copy.dts, copy.time_base = packet.pts, packet.dts, packet.time_base
        copy.is_keyframe = packet.is_keyframe
        copy.stream = self._video
        self._pipe.mux(copy)

    def finish(self, expected_frames: int) -> None:
        """Wait for the decoder; raise VerificationError unless every frame decoded cleanly."""
        try:
            self._pipe.close()
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            returncode = self._proc.wait(timeout=TIMEOUT_SECONDS)
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.abort()
            raise VerificationError(f"{self.name}: the independent decoder failed: {exc}") from exc
        errors, progress = self._errors.read_text(), self._progress.read_text() if self._progress.exists() else ""
        self._errors.unlink(missing_ok=True)
        self._progress.unlink(missing_ok=True)
        _check(self.name, returncode, errors, progress, expected_frames)

    def abort(self) -> None:
        self._proc.kill()
        self._proc.wait()
        with contextlib.suppress(Exception):  # the reader is gone: writing the trailer fails
            self._pipe.close()
        with contextlib.suppress(OSError):
            assert self._proc.stdin is not None
            self._proc.stdin.close()
        self._errors.unlink(missing_ok=True)
        self._progress.unlink(missing_ok=True)
