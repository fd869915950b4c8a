"""The decode pass: demux video and audio, decode packet by packet, and number and time every
decoded frame. A bad packet is counted, not fatal; a demux error ends the stream and the decoders
are flushed, so a truncated file yields what it holds."""

from __future__ import annotations

import bisect
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import av
import av.logging
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from ..errors import NotCuttable
from .passthrough import CopyNotPossible
from .probe import VideoFacts
from .timing import FrameClock, frame_ticks

log = logging.getLogger(__name__)

MAX_ERRORS_LISTED = 20


@dataclass(frozen=True)
class DecodedFrame:
    index: int
    """Source frame index: 0-based, presentation order, counted over decoded frames."""
    pts: int
    """Presentation time in ``facts.time_base`` ticks, relative to the first frame."""
    frame: VideoFrame
    damaged: bool
    """Flagged by the decoder, or decoded after a lost reference (DamageTracker)."""
    packet: int | None = None
    """When packets are copied: the decode number of the packet it came from (``CopiedPacket``)."""


@dataclass(frozen=True)
class CopiedPacket:
    """A video packet as demuxed, yielded before it is decoded when the stream is copied."""

    number: int
    """Its place in decode order, counted from the first packet this pass decoded."""
    packet: Packet[Stream]


@dataclass(frozen=True)
class SeekPoint:
    """Where a clip job starts decoding a recording (docs/long-recordings.md), and what it needs to
    number and time frames exactly as one pass from the start would."""

    stream_ts: int
    """The keyframe to start at: its index timestamp, in the video stream's time base."""
    frame_index: int
    """The global index of that keyframe's frame (one frame per non-empty packet before it)."""
    origin: int
    """The recording's first frame timestamp: every frame's time is relative to it."""
    audio_origin: int | None = None
    """The recording's first audio timestamp (audio stream's time base): audio sample 0."""
    window: tuple[int, int] | None = None
    """Decode errors count only for packets in [start, end) ticks relative to ``origin`` (the clip's
    own span: its neighbours count the rest)."""


@dataclass
class DecodeErrors:
    """Decode errors: all counted, the first ``MAX_ERRORS_LISTED`` kept and logged."""

    count: int = 0
    messages: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        self.count += 1
        # A badly damaged file can fail on every packet: log and list the first ones only.
        if len(self.messages) < MAX_ERRORS_LISTED:
            self.messages.append(message)
            log.info("decode error: %s", message)  # counted in the manifest and the summary line
        elif self.count == MAX_ERRORS_LISTED + 1:
            log.warning("more decode errors; only the first %d are listed", MAX_ERRORS_LISTED)


@dataclass
class DamageTracker:
    """Which decoded frames are damaged: flagged by the decoder (concealment, corrupt), or decoded
    after a packet failed, until the next keyframe (a lost reference smears everything after it)."""

    _lost_reference: bool = False

    def packet_failed(self) -> None:
        self._lost_reference = True

    def is_damaged(self, frame: VideoFrame) -> bool:
        if frame.key_frame:
            self._lost_reference = False
        if frame.is_corrupt:
            # The decoder concealed errors in this frame; the frames predicted from it inherit them.
            self._lost_reference = True
            return True
        return self._lost_reference


@contextlib.contextmanager
def _ffmpeg_errors() -> Iterator[list[tuple[int, str, str]]]:
    """FFmpeg's error-level log lines while the block runs (from every thread: frame-threaded
    decoders log from their own). PyAV keeps FFmpeg's log off by default; it is restored after."""
    previous = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture(local=False) as logs:
            yield logs
    finally:
        av.logging.set_level(previous)


class DecodePass:
    """Iterate to get every decoded video frame (as ``DecodedFrame``) and audio frame, in the
    order they come out of the decoders. ``frames`` and ``last_pts`` describe what was decoded."""

    def __init__(self, container: InputContainer, video: VideoStream, audio: AudioStream | None,
                 facts: VideoFacts, seek: SeekPoint | None = None, copy: bool = False) -> None:  # fmt: skip
        """``copy``: the video packets are copied too: each is yielded (``CopiedPacket``) before it is
        decoded, and each frame says which packet it came from."""
        self.container, self.video, self.audio, self.facts = container, video, audio, facts
        self.video.thread_type = "AUTO"  # frame threads: the decoder overlaps itself
        self.copy = copy
        self.packets = 0  # video packets sent to the decoder (copy: their decode numbers)
        if copy:
            # The decoder hands each packet's ``opaque`` to the frame it decodes into.
            self.video.codec_context.copy_opaque = True
        ticks = frame_ticks(facts.time_base, facts.fps)
        self.clock = FrameClock(ticks) if seek is None else FrameClock.starting_at(ticks, seek.origin)
        self.errors = DecodeErrors()
        self.damage = DamageTracker()
        self.seek = seek
        self.frames = 0 if seek is None else seek.frame_index
        self.last_pts = 0
        self.audio_samples = 0
        self.first_audio_sample: int | None = None
        """The position of the first decoded audio sample on the recording's audio timeline."""
        self._key_ts: int | None = None  # after a seek: the keyframe's presentation time
        self._seen: list[int] = []  # after a seek: every video packet's time since, sorted
        self._at_start = seek is None
        if seek is not None:
            # The demuxer's index lookup: the keyframe at or before the timestamp (AVI: idx1/indx).
            container.seek(seek.stream_ts, stream=video, backward=True, any_frame=False)

    def __iter__(self) -> Iterator[DecodedFrame | AudioFrame | CopiedPacket]:
        # Decoders report much damage only in their log while the frames still come out
        # ("ac-tex damaged", "cinepak_decode failed"): those lines count as decode errors too.
        decoders = {s.codec_context.name for s in self._streams()}
        with _ffmpeg_errors() as logged:
            seen = 0
            for packet in self._packets():
                if packet.stream.type == "video":
                    yield from self._video_packet(packet)
                elif self.audio is not None and packet.stream.index == self.audio.index:
                    yield from self._audio_packet(packet)
                # Attributed to the packet just decoded (frame threads may log a little later).
                if len(logged) > seen:
                    counted = self._counts(packet)
                    for _, name, message in logged[seen:]:
                        if name in decoders and counted:
                            self.errors.add(f"{name}: {message.strip()}")
                    seen = len(logged)

    def audio_position(self, frame: AudioFrame) -> int | None:
        """Where a decoded audio frame starts on the recording's audio timeline, in samples."""
        if self.seek is None or self.seek.audio_origin is None or frame.pts is None or frame.time_base is None:
            return None
        return round((frame.pts - self.seek.audio_origin) * frame.time_base * frame.sample_rate)

    def _counts(self, packet: Packet[Stream]) -> bool:
        """Whether errors in ``packet`` are this pass's to count (see ``SeekPoint.window``)."""
        seek = self.seek
        ts = packet.pts if packet.pts is not None else packet.dts
        if seek is None or seek.window is None or ts is None or packet.time_base is None:
            return True
        origin = seek.origin if packet.stream.type == "video" else seek.audio_origin or 0
        seconds = (ts - origin) * packet.time_base
        start, end = (t * self.facts.time_base for t in seek.window)
        return start <= seconds < end

    @property
    def audio_seconds(self) -> float | None:
        if self.audio is None:
            return None
        return self.audio_samples / self.audio.codec_context.sample_rate

    def _streams(self) -> list[Stream]:
        return [self.video] + ([self.audio] if self.audio is not None else [])

    def _packets(self) -> Iterator[Packet[Stream]]:
        demux = self.container.demux(self._streams())
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                return
            except av.FFmpegError as exc:
                # A truncated or damaged tail: keep what decoded, then flush the decoders.
                self.errors.add(f"demux stopped: {exc}")
                for stream in self._streams():
                    flush = Packet()
                    flush.stream = stream
                    yield flush
                return
            yield packet

    def _video_packet(self, packet: Packet[Stream]) -> Iterator[DecodedFrame | CopiedPacket]:
        at_end = packet.size == 0 and packet.dts is None and packet.pts is None
        if packet.size == 0 and not at_end:
            return  # zero-byte chunk: a dropped frame in a VFR capture; its slot stays a gap
        ts = packet.pts if packet.pts is not None else packet.dts
        if not self._at_start and not at_end:
            if not self._is_seek_target(packet):
                return
            self._at_start, self._key_ts = True, ts
        if self.seek is not None and not at_end and ts is not None:
            bisect.insort(self._seen, ts)
            if self._key_ts is not None and ts < self._key_ts:
                # A leading picture of an open GOP (packed DivX/Xvid): it shows before the keyframe
                # and needs the GOP before it, so it is not decoded. Its time still counts towards
                # the frame numbers (the frames before the keyframe are the neighbour's).
                return
        if not at_end:
            self.clock.push(ts)
            if self.copy:
                packet.opaque = self.packets
                yield CopiedPacket(self.packets, packet)
            self.packets += 1
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:
            if self.copy:
                raise CopyNotPossible(f"video packet at dts {packet.dts} does not decode ({exc})") from exc
            self.clock.forget(ts)
            if self.seek is not None and ts in self._seen:
                self._seen.remove(ts)  # as the single pass: a packet that failed numbers no frame
            self.damage.packet_failed()
            self.errors.add(f"video packet at dts {packet.dts}: {exc}")
            return
        for frame in frames:
            assert isinstance(frame, VideoFrame)
            index = self.frames
            pts = index * self.clock.frame_ticks if self.facts.retimed else self.clock.next()
            if self.seek is not None:
                # Frame k of one pass gets the k-th smallest packet time: its number is how many
                # packets from the keyframe on have a smaller time, plus the frames before it.
                index = self.seek.frame_index + bisect.bisect_left(self._seen, pts + self.seek.origin)
            self.frames = index + 1
            self.last_pts = pts
            number = frame.opaque if self.copy and isinstance(frame.opaque, int) else None
            yield DecodedFrame(index, pts, frame, self.damage.is_damaged(frame), number)

    def _is_seek_target(self, packet: Packet[Stream]) -> bool:
        """After a seek: skip what precedes the keyframe; anything else is not the frame the index
        promised, and numbering by the index would be wrong."""
        assert self.seek is not None
        if packet.dts is not None and packet.dts < self.seek.stream_ts:
            return False
        if packet.dts != self.seek.stream_ts or not packet.is_keyframe:
            raise NotCuttable(f"seeking to the keyframe at {self.seek.stream_ts} found a packet at {packet.dts}"
                              f"{'' if packet.is_keyframe else ' (not a keyframe)'}")  # fmt: skip
        return True

    def _audio_packet(self, packet: Packet[Stream]) -> Iterator[AudioFrame]:
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:
            self.errors.add(f"audio packet at dts {packet.dts}: {exc}")
            return
        for frame in frames:
            assert isinstance(frame, AudioFrame)
            if self.first_audio_sample is None:
                self.first_audio_sample = self.audio_position(frame)
            self.audio_samples += frame.samples
            yield frame
