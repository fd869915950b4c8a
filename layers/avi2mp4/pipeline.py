"""One decode pass per video: transcode, sample JPEGs and judge frames from the same frames.

The core knows paths, not buckets: it reads a local file, writes into a work folder, and hands each
finished output to ``on_output`` (which takes ownership of the file) as soon as it is final, so the
work folder stays small however long the video is.
"""

from __future__ import annotations

import hashlib
import logging
import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import av
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from .config import PipelineConfig
from .deadframes import DamageTracker, FrameJudge, KeepAll, Verdict
from .errors import NoDecodableFrames
from .frames import encode_jpeg, is_sampled, jpeg_name
from .probe import VideoFacts, open_input, select_streams, video_facts
from .timing import FrameClock, frame_ticks
from .transcode import ClipEncoder, ClipFile, EncoderThread, FrameConverter, require_encoders

log = logging.getLogger(__name__)

MAX_ERRORS_LISTED = 20


@dataclass(frozen=True)
class OutputFile:
    kind: Literal["video", "image"]
    name: str
    """Key relative to the output prefix, e.g. ``rec.mp4`` or ``rec/rec_f000120.jpg``."""
    path: Path
    size: int
    sha256: str


@dataclass(frozen=True)
class SampledFrame:
    name: str
    index: int
    pts_seconds: float


@dataclass(frozen=True)
class DeadFrame:
    index: int
    reason: str


@dataclass(frozen=True)
class Progress:
    frames: int
    seconds: float
    """Media time reached so far."""
    expected_seconds: float | None
    """The container's duration estimate (may be wrong; headers lie)."""


@dataclass
class PipelineResult:
    facts: VideoFacts
    frames_decoded: int
    duration_seconds: float
    clips: list[ClipFile]
    frames: list[SampledFrame]
    dead_frames: list[DeadFrame]
    decode_errors: int
    error_messages: list[str] = field(default_factory=list)


OutputHandler = Callable[[OutputFile], None]
ProgressHandler = Callable[[Progress], None]


def describe_file(kind: Literal["video", "image"], name: str, path: Path) -> OutputFile:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return OutputFile(kind, name, path, path.stat().st_size, digest.hexdigest())


def process_video(
    src: Path,
    workdir: Path,
    cfg: PipelineConfig,
    *,
    stem: str,
    on_output: OutputHandler,
    judge: FrameJudge | None = None,
    progress: ProgressHandler | None = None,
) -> PipelineResult:
    """Convert ``src`` in one decode pass. Raises an ``InvalidInput`` subclass on bad media.

    ``on_output`` is called for each clip and each kept JPEG once it is final; on an exception
    the caller owns cleaning up what it already received.
    """
    require_encoders("libx264", "aac")
    workdir.mkdir(parents=True, exist_ok=True)
    with open_input(src) as container:
        video, audio = select_streams(container, src.name)
        facts = video_facts(container, video, audio, cfg)
        return _Run(container, video, audio, facts, workdir, cfg, stem, on_output, judge, progress).run()


class _Run:
    """State of one conversion; split out of process_video only to keep each step small."""

    def __init__(
        self,
        container: InputContainer,
        video: VideoStream,
        audio: AudioStream | None,
        facts: VideoFacts,
        workdir: Path,
        cfg: PipelineConfig,
        stem: str,
        on_output: OutputHandler,
        judge: FrameJudge | None,
        progress: ProgressHandler | None,
    ) -> None:
        self.container, self.facts, self.workdir, self.cfg, self.stem = container, facts, workdir, cfg, stem
        self.on_output, self.progress = on_output, progress
        self.judge = judge or KeepAll(cfg.frame_step)
        self.video, self.audio = video, audio
        self.video.thread_type = "AUTO"  # frame threads: the decoder overlaps itself
        self.clock = FrameClock(frame_ticks(facts.time_base, facts.fps))
        rate = self.audio.codec_context.sample_rate if self.audio is not None else None
        channels = self.audio.codec_context.channels if self.audio is not None else 0
        # Clips finish on the encoder thread; they are handed to on_output from this thread.
        self.finished_clips: queue.SimpleQueue[ClipFile] = queue.SimpleQueue()
        clip_encoder = ClipEncoder(workdir, stem, facts, cfg, rate or None, channels, self.finished_clips.put)
        self.encoder = EncoderThread(clip_encoder, FrameConverter(facts.width, facts.height))
        self.index = 0
        self.last_pts = 0
        self.errors = 0
        self.messages: list[str] = []
        self.damage = DamageTracker()
        # Sampled frames awaiting a verdict (at most one stride's worth): encoded only if kept.
        self.pending: dict[int, tuple[float, VideoFrame]] = {}
        self.sampled: list[SampledFrame] = []
        self.dead: list[DeadFrame] = []
        self.expected = float(container.duration / av.time_base) if container.duration else None

    def run(self) -> PipelineResult:
        try:
            for packet in self._packets():
                if packet.stream.type == "video":
                    self._video_packet(packet)
                elif self.audio is not None and packet.stream.index == self.audio.index:
                    self._audio_packet(packet)
            for verdict in self.judge.finish():
                self._resolve(verdict)
            if self.index == 0:
                raise NoDecodableFrames(
                    f"no frame of the {self.facts.codec} video decodes"
                    + (f" ({self.errors} decode errors)" if self.errors else " (the file holds no frames)")
                )
            clips = self.encoder.finish()
            self._hand_over_clips()
        except BaseException:
            self.encoder.abort()
            raise
        ticks = self.clock.frame_ticks
        return PipelineResult(
            facts=self.facts,
            frames_decoded=self.index,
            duration_seconds=float((self.last_pts + ticks) * self.facts.time_base),
            clips=clips,
            frames=sorted(self.sampled, key=lambda f: f.index),
            dead_frames=sorted(self.dead, key=lambda d: d.index),
            decode_errors=self.errors,
            error_messages=self.messages,
        )

    # ---- demux and decode ----------------------------------------------------------------------
    def _packets(self) -> Iterator[Packet[Stream]]:
        streams = [self.video] + ([self.audio] if self.audio is not None else [])
        demux = self.container.demux(streams)
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                return
            except av.FFmpegError as exc:
                # A truncated or damaged tail: keep what decoded, then flush the decoders.
                self._error(f"demux stopped: {exc}")
                yield from self._flush_packets()
                return
            yield packet

    def _flush_packets(self) -> Iterator[Packet[Stream]]:
        for stream in [self.video] + ([self.audio] if self.audio is not None else []):
            flush: Packet[Stream] = Packet()
            flush.stream = stream
            yield flush

    def _video_packet(self, packet: Packet[Stream]) -> None:
        at_end = packet.size == 0 and packet.dts is None and packet.pts is None
        if packet.size == 0 and not at_end:
            return  # zero-byte chunk: a dropped frame in a VFR capture; its slot stays a gap
        ts = packet.pts if packet.pts is not None else packet.dts
        if not at_end:
            self.clock.push(ts)
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:
            self.clock.forget(ts)
            self.damage.packet_failed()
            self._error(f"video packet at dts {packet.dts}: {exc}")
            return
        for frame in frames:
            assert isinstance(frame, VideoFrame)
            self._video_frame(frame)

    def _audio_packet(self, packet: Packet[Stream]) -> None:
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:
            self._error(f"audio packet at dts {packet.dts}: {exc}")
            return
        for frame in frames:
            self.encoder.add_audio(frame)  # type: ignore[arg-type]

    def _error(self, message: str) -> None:
        self.errors += 1
        # A badly damaged file can fail on every packet: log and list the first ones only.
        if len(self.messages) < MAX_ERRORS_LISTED:
            self.messages.append(message)
            log.warning("decode error: %s", message)
        elif self.errors == MAX_ERRORS_LISTED + 1:
            log.warning("more decode errors; only the first %d are listed", MAX_ERRORS_LISTED)

    # ---- per frame -----------------------------------------------------------------------------
    def _video_frame(self, frame: VideoFrame) -> None:
        index = self.index
        self.index += 1
        pts = index * self.clock.frame_ticks if self.facts.retimed else self.clock.next()
        self.last_pts = pts
        damaged = self.damage.is_damaged(frame)
        if is_sampled(index, self.cfg.frame_step):
            seconds = float(pts * self.facts.time_base)
            self.pending[index] = (seconds, frame)
        for verdict in self.judge.observe(index, frame, damaged):
            self._resolve(verdict)
        self.encoder.add_video(frame, pts)
        self._hand_over_clips()
        if self.progress is not None and index % 25 == 0:
            self.progress(Progress(index + 1, float(pts * self.facts.time_base), self.expected))

    def _resolve(self, verdict: Verdict) -> None:
        seconds, frame = self.pending.pop(verdict.index)
        if verdict.reason is not None:
            self.dead.append(DeadFrame(verdict.index, verdict.reason))
            return
        name = jpeg_name(self.stem, verdict.index)
        path = self.workdir / f"f{verdict.index:06d}.jpg"
        path.write_bytes(encode_jpeg(frame, self.cfg.jpeg_quality))
        self.on_output(describe_file("image", name, path))
        self.sampled.append(SampledFrame(name, verdict.index, seconds))

    def _hand_over_clips(self) -> None:
        while not self.finished_clips.empty():
            clip = self.finished_clips.get()
            self.on_output(describe_file("video", clip.path.name, clip.path))
