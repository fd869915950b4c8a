"""Every clip read back by an independent decoder before the source may go: the ffmpeg binary that
imageio-ffmpeg ships (a separate FFmpeg build from PyAV's libraries), not our own code agreeing
with itself.

Two parts, joined by packet checksums:

* While a clip is encoded, ``LiveReadBack`` takes the MD5 of each video packet as the MP4 will
  hold it. With ``VERIFY_PICTURES=reference`` or ``all`` it also streams the packets into an
  ffmpeg process that decodes them: every picture that others are predicted from
  (``-skip_frame noref``), or every picture.
* When the finished MP4 is handed over, ``FileReadBack`` has the binary read the file (while the
  store writes it): every video packet demuxed, counted and its MD5 compared with the live one
  (so the file holds exactly the packets the encoder made, one per frame, in order), every
  picture's headers parsed (``h264_metadata``), every keyframe decoded, the audio decoded.

Why the default (``keyframes``) decodes only keyframes: a decoder finds little that the checksums
miss. Scrambling or zeroing half of a P picture's slice data decodes without a word from FFmpeg
(CABAC turns any bits into some picture); it reports a packet cut short, which changes its
checksum too (tests/integration/test_readback.py). What decoding adds is proof that x264's own
output decodes, and that costs CPU that no overlap hides while the pipeline keeps 2 vCPU busy.
bench/bench_pipeline.py measures each level against no read-back.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import queue
import re
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from av.packet import Packet
from av.stream import Stream

from ..errors import EncoderUnavailable, VerificationError
from .h264 import as_stored

_FRAME = re.compile(r"^frame=(\d+)$", re.MULTILINE)
TIMEOUT_SECONDS = 900
Pictures = Literal["keyframes", "reference", "all"]


@functools.cache
def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise EncoderUnavailable("imageio-ffmpeg is not installed: clips cannot be read back") from exc
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _check_decoder(name: str, returncode: int, errors: str) -> None:
    if returncode != 0 or errors.strip():
        raise VerificationError(f"{name}: the independent decoder reports: {errors.strip()[:300] or returncode}")


class FileReadBack:
    """The read-back of a finished file, running in the background (``read_back`` waits for it
    at once); ``wait`` raises VerificationError unless ``path`` reads without an error into
    ``expected_frames``. With ``packet_md5`` (``LiveReadBack``'s) the file is checked as the
    module docstring says; without, every picture is decoded here."""

    def __init__(self, path: Path, expected_frames: int, packet_md5: Sequence[str] | None = None) -> None:
        self.path, self.expected_frames, self.packet_md5 = path, expected_frames, packet_md5
        self._proc: subprocess.Popen[str] | None = None
        self._failed: OSError | None = None
        command = [ffmpeg_exe(), "-nostdin", "-v", "error", "-nostats", "-threads", "1"]
        try:
            # The decoder reads the file through a descriptor opened now: it reads these bytes
            # even when the store moves the file meanwhile (a local store renames it away).
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            self._failed = exc
            return
        if packet_md5 is None:
            command += ["-fd", str(fd), "-i", "fd:", "-progress", "pipe:1", "-map", "0", "-f", "null", "-"]
        else:
            # One read of the file, four outputs: the packets' checksums (to stdout), each
            # picture's headers parsed, the keyframes decoded (the input's decoder skips the
            # rest), the audio decoded.
            command += ["-skip_frame", "nokey", "-fd", str(fd), "-i", "fd:",
                        "-map", "0:v", "-c", "copy", "-f", "framemd5", "-hash", "md5", "pipe:1",
                        "-map", "0:v", "-c", "copy", "-bsf:v", "h264_metadata", "-f", "null", "-",
                        "-map", "0:v", "-f", "null", "-", "-map", "0:a?", "-f", "null", "-"]  # fmt: skip
        try:
            self._proc = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, pass_fds=(fd,)
            )
        except OSError as exc:
            self._failed = exc
        finally:
            os.close(fd)

    def wait(self) -> None:
        name = self.path.name
        if self._proc is None:
            raise VerificationError(f"{name}: the independent decoder could not run: {self._failed}")
        try:
            out, errors = self._proc.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired as exc:
            self.cancel()
            raise VerificationError(f"{name}: the independent decoder did not finish: {exc}") from exc
        _check_decoder(name, self._proc.returncode, errors)
        if self.packet_md5 is None:
            counts = _FRAME.findall(out)
            frames = int(counts[-1]) if counts else 0
        else:
            stored = [line.rsplit(",", 1)[-1].strip() for line in out.splitlines() if line and line[0] != "#"]
            frames = len(stored)
            mismatch = next((i for i, (a, b) in enumerate(zip(stored, self.packet_md5, strict=False)) if a != b), None)
            if mismatch is not None:
                raise VerificationError(f"{name}: video packet {mismatch} as stored is not the one encoded")
        if frames != self.expected_frames:
            raise VerificationError(f"{name}: read back {frames} frames, wrote {self.expected_frames}")

    def cancel(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.communicate()


def read_back(path: Path, expected_frames: int, packet_md5: Sequence[str] | None = None) -> None:
    """``FileReadBack``, waited for."""
    FileReadBack(path, expected_frames, packet_md5).wait()


class LiveReadBack:
    """A clip's video packets checksummed, and decoded by an ffmpeg process, while it is written
    (see the module docstring).

    The checksums are taken on the encoder's thread (20 us a packet; a thread of their own cost
    more in handing over the GIL). The packets go to the decoder through a queue and a thread:
    the decoder runs at the lowest priority, so it falls behind x264, and a pipe (64 KiB)
    written from the encoder's thread would hold x264 back each time it fills. The queue is
    bounded (``BACKLOG_BYTES``); past that the encoder waits rather than memory growing."""

    BACKLOG_BYTES = 256 << 20

    def __init__(self, workdir: Path, name: str, video: Stream, pictures: Pictures = "keyframes") -> None:
        self.name = name
        self.pictures = pictures
        self.packet_md5: list[str] = []
        self._video = video
        self._errors = workdir / f"{name}.readback-errors"
        self._progress = workdir / f"{name}.readback-progress"
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._queued = 0  # bytes in the queue
        self._space = threading.Condition()
        self._broken: OSError | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._writer: threading.Thread | None = None
        if pictures != "keyframes":  # else keyframes are decoded from the file (read_back)
            self._proc = self._start_decoder()
            # x264 keeps its parameter sets (SPS, PPS) in the stream's extradata, not in packets:
            # the decoder needs them first.
            self._put(bytes(video.codec_context.extradata or b""))
            self._writer = threading.Thread(target=self._write, name=f"readback-{name}", daemon=True)
            self._writer.start()

    def _start_decoder(self) -> subprocess.Popen[bytes]:
        skip = ["-skip_frame", "noref"] if self.pictures == "reference" else []
        # One thread: the least CPU per picture (frame threads cost 10 % more), and the deblocking
        # filter skipped: it only smooths pixels, it parses nothing that could be damaged. The
        # input is the raw Annex B stream as libx264 writes it: nothing to mux on our side.
        command = [ffmpeg_exe(), "-nostdin", "-v", "error", "-nostats", "-progress", f"file:{self._progress}",
                   "-threads", "1", "-skip_loop_filter", "all", *skip, "-f", "h264", "-i", "pipe:0",
                   "-map", "0:v", "-f", "null", "-"]  # fmt: skip
        with self._errors.open("w") as errors:
            proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors)
        # The decoder should use the time x264 leaves idle before it takes turns with it (measured:
        # niced it adds less wall time). Set from here: a preexec_fn is unsafe with threads.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, proc.pid, 19)
        return proc

    def feed(self, packet: Packet[Any]) -> None:
        """A copy of ``packet`` (muxing hands the original over to the clip's muxer)."""
        data = bytes(packet)
        self.packet_md5.append(hashlib.md5(as_stored(data), usedforsecurity=False).hexdigest())
        if self._proc is not None:
            self._put(data)

    def _put(self, data: bytes) -> None:
        with self._space:
            self._space.wait_for(lambda: self._queued == 0 or self._queued + len(data) <= self.BACKLOG_BYTES)
            self._queued += len(data)
        self._queue.put(data)

    def _write(self) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        while (data := self._queue.get()) is not None:
            if self._broken is None:
                try:
                    self._proc.stdin.write(data)
                except OSError as exc:  # the decoder is gone; finish() reports why
                    self._broken = exc
            with self._space:
                self._queued -= len(data)
                self._space.notify()
        with contextlib.suppress(OSError):
            self._proc.stdin.close()

    def _stop_writer(self) -> None:
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()

    def finish(self, expected_frames: int) -> None:
        """Wait for the checksums and the decoder; raise VerificationError unless the decoder
        reported no error and (decoding every picture) decoded ``expected_frames``."""
        self._stop_writer()
        if self._proc is not None:
            try:
                returncode = self._proc.wait(timeout=TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired as exc:
                self.abort()
                raise VerificationError(f"{self.name}: the independent decoder did not finish: {exc}") from exc
            errors = self._errors.read_text() or (str(self._broken) if self._broken else "")
            progress = self._progress.read_text() if self._progress.exists() else ""
            self._remove_files()
            _check_decoder(self.name, returncode, errors)
            counts = _FRAME.findall(progress)
            decoded = int(counts[-1]) if counts else 0
            if self.pictures == "all" and decoded != expected_frames:
                raise VerificationError(f"{self.name}: decoded {decoded} frames, wrote {expected_frames}")
        if len(self.packet_md5) != expected_frames:
            raise VerificationError(f"{self.name}: encoded {len(self.packet_md5)} packets for {expected_frames} frames")

    def abort(self) -> None:
        if self._proc is not None:
            self._proc.kill()
        self._stop_writer()
        if self._proc is not None:
            self._proc.wait()
        self._remove_files()

    def _remove_files(self) -> None:
        self._errors.unlink(missing_ok=True)
        self._progress.unlink(missing_ok=True)
