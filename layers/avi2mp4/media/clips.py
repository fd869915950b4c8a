"""H.264/AAC encoding into one or more MP4 clips, frame-exact, from a single pair of encoders.

One libx264 encoder sees every frame. At each clip boundary the frame is forced to an IDR (closed
GOP), and the encoder's packets are routed by timestamp into one MP4 muxer per clip, rebased to
start at 0. Every clip therefore starts on a keyframe, plays on its own, and the clips together hold
each frame exactly once. Whether a video is "long" is only known at its end (headers lie), so when
it turns out to be short its segments are joined again by a stream copy (no re-encode).

A stream that browsers already play is copied instead (``ClipCopier``, ``media.passthrough``): no
encoder, the source's packets routed the same way, each clip starting at an IDR picture, the first
at or after ``clip_seconds`` from the start of the clip before.

Work files are named ``clip-000.mp4`` and ``whole.mp4``: the names users see come from
``outputs.names``, not from here.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.frame import VideoFrame
from av.video.reformatter import ColorRange
from av.video.stream import VideoStream

from ..settings import PipelineConfig
from .clip_audio import AudioRouter, ClipAudioTrack
from .colour import Rendition
from .encoders import VideoEncoder, audio_layout
from .h264 import is_idr
from .passthrough import CopyNotPossible, PacketTimer
from .probe import VideoFacts
from .readback import LiveReadBack, Pictures
from .timing import frame_ticks, played_rate

MP4_OPTIONS = {"movflags": "+faststart"}


@dataclass(frozen=True)
class ClipFile:
    index: int
    path: Path
    first_frame: int
    last_frame: int
    start_seconds: float
    duration_seconds: float
    split: bool
    """True for the clips of a split (long) video, False for a video kept whole."""
    packet_md5: tuple[str, ...] = ()
    """Each video packet's MD5 as the MP4 stores it, taken while encoding (``LiveReadBack``)."""


@dataclass
class _Segment:
    index: int
    path: Path
    container: OutputContainer
    video: VideoStream
    audio: ClipAudioTrack | None
    first_frame: int
    last_frame: int
    start_pts: int  # video ticks
    end_pts: int  # exclusive, video ticks of the frame after the last one
    last_pts: int = 0
    live: LiveReadBack | None = None
    video_done: bool = False


class ClipWriter:
    """Writes one MP4 per ``clip_seconds`` of video: the encoder's video packets routed by time,
    and each clip's own audio (``AudioRouter``). Each clip goes to ``on_clip`` as soon as it is
    final (at once for a long video; at the end for a short one, after joining its segments)."""

    def __init__(self, workdir: Path, facts: VideoFacts, cfg: PipelineConfig, video: VideoStream,
                 audio: tuple[int, str] | None, on_clip: Callable[[ClipFile], None],
                 only_clip: int | None = None, first_frame: int = 0,
                 copy: Rendition | None = None) -> None:  # fmt: skip
        """``only_clip``: a clip job's clip number (its frames alone are given; the video is known to
        be split); ``first_frame``: the global index of the first frame given; ``copy``: the packets
        are the source's (clips start at IDR pictures, ``begin_frame`` says which), their colour this."""
        self.workdir, self.on_clip, self.video_template = workdir, on_clip, video
        self.copy = copy is not None
        self.copied_colour = copy
        self._starts: list[int] = []  # copy: each segment's first frame time, in order
        self._start_frames: list[int] = []  # ...and its first frame's index
        self.read_back = cfg.verify_clips
        self.pictures = cast(Pictures, cfg.verify_pictures)  # one of its choices (settings)
        self.time_base, self.fps = facts.time_base, facts.fps
        self._steps: collections.Counter[int] = collections.Counter()  # ticks between frames -> how often
        self._last_pts: int | None = None
        self.clip_ticks = Fraction(cfg.clip_seconds) / self.time_base
        self.split_ticks = Fraction(cfg.split_after_seconds) / self.time_base
        self.audio = AudioRouter(*audio, facts.time_base) if audio else None
        """``audio``: the source's rate and the layout AAC carries; the router resamples."""
        self._segments: dict[int, _Segment] = {}
        self._held: list[ClipFile] = []  # closed, but may yet be joined if the video ends short
        self._delivered: list[ClipFile] = []
        self._long = False
        self._opened = 0  # segments opened so far
        self._frames = first_frame
        self._video_end = 0  # ticks: end of the last frame so far
        self._floor = 0  # ticks: no audio before this is wanted
        self._only = only_clip
        if only_clip is not None:
            self._floor = math.ceil(only_clip * self.clip_ticks)
            self._long = True
            if self.audio is not None:
                self.audio.drop_whole()

    def begin_frame(self, pts: int, idr: bool = False) -> bool:
        """Account for the next frame (presentation order); True if it starts a clip. ``idr``: a
        copied frame that a clip may start at."""
        index = self._copied_segment(pts, idr) if self.copy else self._segment_of(pts)
        seg = self._segments.get(index) or self._open_segment(index, pts)
        starts = seg.first_frame == self._frames
        seg.last_frame = self._frames
        if self._last_pts is not None:
            self._steps[pts - self._last_pts] += 1
        self._last_pts = seg.last_pts = pts
        seg.end_pts = self._video_end = pts + self.frame_step
        self._frames += 1
        if not self._long and pts >= self.split_ticks:
            self._long = True
            if self.audio is not None:
                self.audio.drop_whole()
        self._pump_audio()
        return starts

    def add_video(self, packet: Packet[Stream]) -> None:
        if packet.pts is None:
            return
        seg = self._segments[self._segment_of(packet.pts)]
        _shift(packet, -round(seg.start_pts * self.time_base / packet.time_base))
        # A frame lasts a step as played: the muxer gives the clip's last sample this duration, so
        # the MP4 ends where the manifest says (its default, the step before, differs in VFR).
        packet.duration = max(1, round(self.frame_step * self.time_base / packet.time_base))
        if seg.live is not None:
            seg.live.feed(packet)
        packet.stream = seg.video
        seg.container.mux(packet)
        # A packet from segment k+1 means segment k's video is complete (closed GOP at the IDR).
        for earlier in [s for s in self._segments.values() if s.index < seg.index]:
            earlier.video_done = True
        self._close_ready()

    def add_audio(self, frame: AudioFrame, position: int | None = None) -> None:
        if self.audio is not None:
            self.audio.add(frame, position, self._floor)
            self._pump_audio()

    def finish(self) -> list[ClipFile]:
        """Close every clip and return them in order (a short video: one file)."""
        self._pump_audio()
        for seg in self._segments.values():
            seg.video_done = True
        self._close_ready(at_end=True)
        if not self._long and self._held:  # a short video after all: one file
            # The whole video's audio for segments joined; one segment keeps its own.
            whole_audio = self.audio.whole() if self.audio is not None and len(self._held) > 1 else (None, [])
            self._held = [join_clips(self._held, self.workdir / "whole.mp4", *whole_audio)]
        self._deliver()
        return sorted(self._delivered, key=lambda c: c.index)

    def abort(self) -> None:
        """Close whatever is open without caring about errors; the caller deletes the workdir."""
        for seg in self._segments.values():
            with contextlib.suppress(Exception):  # best effort on an already failing path
                seg.container.close()
            for part in (seg.audio, seg.live):
                if part is not None:
                    part.abort()
        self._segments.clear()
        if self.audio is not None:
            self.audio.drop_whole()

    # ---- internals ---------------------------------------------------------------------------
    @property
    def frame_step(self) -> int:
        """How long a frame lasts, in ticks: the step between frames seen most often so far (the
        header's rate may be a field rate; a capture may have dropped most frames)."""
        return played_rate(self._steps, self.time_base, self.fps)[0]

    def _segment_of(self, pts: int) -> int:
        if self.copy:  # the last segment that starts at or before it
            return (self._only or 0) + max(0, bisect.bisect_right(self._starts, pts) - 1)
        return math.floor(pts / self.clip_ticks)

    def _copied_segment(self, pts: int, idr: bool) -> int:
        """Copied frames: the first starts clip 0 (a clip job: its clip, whose audio starts with
        it); then each IDR at or after ``clip_seconds`` from the last clip's start starts the next."""
        if not self._starts:
            if self._only is not None:
                self._floor = pts
            self._starts.append(pts)
            self._start_frames.append(self._frames)
        elif self._only is None and idr and pts >= self._starts[-1] + self.clip_ticks:
            self._starts.append(pts)
            self._start_frames.append(self._frames)
        return self._segment_of(pts)

    def clip_of(self, index: int) -> int:
        """The clip of a frame given so far (copy: clips are cut at IDR pictures, not by time)."""
        return (self._only or 0) + max(0, bisect.bisect_right(self._start_frames, index) - 1)

    def _open_segment(self, index: int, pts: int) -> _Segment:
        path = self.workdir / f"clip-{index:03d}.mp4"
        container = av.open(str(path), "w", format="mp4", options=MP4_OPTIONS)
        video = container.add_stream_from_template(self.video_template)
        if self.copied_colour is not None:
            video.codec_tag = "avc1"  # AVI says H264; MP4 says avc1 (parameter sets in avcC)
            # The MP4's colr box: what the stream says, and what players assume where it is silent.
            ctx, colour = video.codec_context, self.copied_colour
            ctx.color_range = ColorRange.MPEG
            ctx.colorspace, ctx.color_primaries = colour.output_matrix, colour.output_primaries
            ctx.color_trc = colour.output_transfer
        audio = self.audio.track(container) if self.audio is not None else None
        seg = _Segment(index, path, container, video, audio, self._frames, self._frames, pts, pts)
        self._opened += 1
        if self._opened == 2 and self.audio is not None:
            self.audio.need_whole()  # two segments: a short video would be joined
        if self.read_back:
            seg.live = LiveReadBack(self.workdir, path.stem, self.video_template, self.pictures)
        self._segments[index] = seg
        return seg

    def _pump_audio(self) -> None:
        if self.audio is not None:
            ordered = sorted(self._segments.values(), key=lambda s: s.index)
            self.audio.pump([(s.start_pts, s.audio) for s in ordered if s.audio is not None], self._video_end)

    def _close_ready(self, at_end: bool = False) -> None:
        """Close the clips whose video is complete and whose audio has all arrived."""
        for seg in sorted(self._segments.values(), key=lambda s: s.index):
            if not seg.video_done:
                break
            if self.audio is not None and not at_end and not self.audio.has_reached(seg.end_pts):
                break  # its audio is still on the way (decoders deliver audio and video unevenly)
            self._close_segment(seg)

    def _close_segment(self, seg: _Segment) -> None:
        del self._segments[seg.index]
        seg.end_pts = seg.last_pts + self.frame_step
        if seg.audio is not None:
            seg.audio.close()
        seg.container.close()
        if seg.live is not None:
            seg.live.finish(seg.last_frame - seg.first_frame + 1)
        self._held.append(ClipFile(
            index=seg.index, path=seg.path, first_frame=seg.first_frame, last_frame=seg.last_frame,
            start_seconds=float(seg.start_pts * self.time_base),
            duration_seconds=float((seg.end_pts - seg.start_pts) * self.time_base), split=True,
            packet_md5=tuple(seg.live.packet_md5) if seg.live is not None else (),
        ))  # fmt: skip
        if self._long:
            # Known to be a split video: every closed clip is final. Hand it over now so the
            # work folder never holds finished clips twice.
            self._deliver()

    def _deliver(self) -> None:
        # Only delivered clips are final: a segment is split=True until a short video's end joins it.
        for clip in self._held:
            self.on_clip(clip)
            self._delivered.append(clip)
        self._held.clear()


def join_clips(parts: list[ClipFile], path: Path, audio: AudioStream | None = None,
               audio_packets: list[Packet[Stream]] | None = None) -> ClipFile:  # fmt: skip
    """One file again. A single segment is renamed. Several are joined: their video packets
    stream-copied, timestamps restored, and the audio of the whole video (encoded in one piece,
    so it plays without a seam) muxed beside it."""
    # The joined timeline: from the first part's start to the last part's end (a gap at a seam, a
    # VFR capture's dropped frames, lies inside it).
    total = parts[-1].start_seconds + parts[-1].duration_seconds - parts[0].start_seconds
    # A stream copy: the packets, and so their checksums, stay as they were.
    md5 = tuple(m for p in parts for m in p.packet_md5) if all(p.packet_md5 for p in parts) else ()
    whole = ClipFile(0, path, parts[0].first_frame, parts[-1].last_frame, 0.0, total, split=False, packet_md5=md5)
    if len(parts) == 1:
        parts[0].path.rename(path)
        return whole
    pending = collections.deque(audio_packets or [])
    with av.open(str(path), "w", format="mp4", options=MP4_OPTIONS) as out:
        with av.open(str(parts[0].path)) as first:  # every stream is added before the first mux
            video = out.add_stream_from_template(first.streams.video[0])
        sound = out.add_stream_from_template(audio) if audio is not None else None
        for part in parts:
            with av.open(str(part.path)) as src:
                start = Fraction(part.start_seconds).limit_denominator(1_000_000)
                for copied in src.demux(src.streams.video[0]):
                    if copied.dts is None and copied.pts is None:
                        continue  # demuxer's end-of-stream marker
                    _shift(copied, round(start / copied.time_base))
                    # Interleave: the audio up to this picture's time goes first.
                    while sound is not None and pending and _seconds(pending[0]) <= _seconds(copied):
                        _mux_to(out, sound, pending.popleft())
                    _mux_to(out, video, copied)
            part.path.unlink()
        while sound is not None and pending:
            _mux_to(out, sound, pending.popleft())
    return whole


def _seconds(packet: Packet[Any]) -> Fraction:
    ticks = packet.dts if packet.dts is not None else packet.pts
    return Fraction(ticks or 0) * packet.time_base


def _mux_to(out: OutputContainer, stream: Stream, packet: Packet[Any]) -> None:
    packet.stream = stream
    out.mux(packet)


def _shift(packet: Packet[Any], ticks: int) -> None:
    if packet.pts is not None:
        packet.pts += ticks
    if packet.dts is not None:
        packet.dts += ticks


class ClipEncoder:
    """Encode frames once; write them as clips. Call ``add_video`` with converted frames in
    presentation order and ``add_audio`` with decoded audio, then ``finish``."""

    def __init__(self, workdir: Path, facts: VideoFacts, cfg: PipelineConfig, rendition: Rendition,
                 audio_rate: int | None, audio_channels: int, on_clip: Callable[[ClipFile], None],
                 only_clip: int | None = None, first_frame: int = 0) -> None:  # fmt: skip
        self.video = VideoEncoder(facts, cfg, rendition)
        audio = (audio_rate, audio_layout(audio_channels)) if audio_rate else None
        self.writer = ClipWriter(workdir, facts, cfg, self.video.stream, audio, on_clip, only_clip, first_frame)

    def add_video(self, frame: VideoFrame, pts: int) -> None:
        starts_clip = self.writer.begin_frame(pts)
        for packet in self.video.encode(frame, pts, keyframe=starts_clip):
            self.writer.add_video(packet)

    def add_audio(self, frame: AudioFrame, position: int | None = None) -> None:
        self.writer.add_audio(frame, position)

    def finish(self) -> list[ClipFile]:
        for packet in self.video.flush():
            self.writer.add_video(packet)
        clips = self.writer.finish()
        self.video.close()
        return clips

    def abort(self) -> None:
        self.writer.abort()
        self.video.close()


class ClipCopier:
    """Copy a stream's packets into clips (``media.passthrough``): ``add_packet`` with every packet
    the pass decodes, in decode order; ``add_frame`` with every frame it decodes, in presentation
    order (``own``: the frame is this pass's, else it was decoded for the judge's sake and its
    packet is left out); ``add_audio``, then ``finish``. No encoder: work on the caller's thread."""

    def __init__(self, workdir: Path, facts: VideoFacts, cfg: PipelineConfig, source: VideoStream,
                 rendition: Rendition, audio_rate: int | None, audio_channels: int,
                 on_clip: Callable[[ClipFile], None], only_clip: int | None = None,
                 first_frame: int = 0) -> None:  # fmt: skip
        audio = (audio_rate, audio_layout(audio_channels)) if audio_rate else None
        self.writer = ClipWriter(workdir, facts, cfg, source, audio, on_clip, only_clip, first_frame, copy=rendition)
        ctx = source.codec_context
        # The decoder's reorder delay, in frames: decode times run that far behind presentation.
        delay = max(int(ctx.has_b_frames or 0), int(getattr(ctx, "reorder_depth", 0) or 0))
        self.timer = PacketTimer(delay * frame_ticks(facts.time_base, facts.fps))
        self.partial = only_clip is not None
        self._idr: dict[int, bool] = {}
        self._own: set[int] = set()
        self._started = False

    def add_packet(self, number: int, packet: Packet[Stream]) -> None:
        self.timer.packet(number, packet)
        self._idr[number] = is_idr(bytes(packet))

    def add_frame(self, pts: int, number: int | None, own: bool) -> None:
        self.timer.frame(number, pts)
        idr = self._idr.pop(number, False) if number is not None else False
        if own:
            if not self._started and not idr:
                raise CopyNotPossible(f"the first frame at {pts} is no IDR picture: a copied clip cannot start there")
            self._started = True
            self.writer.begin_frame(pts, idr)
            assert number is not None
            self._own.add(number)
        self._mux(self.timer.ready())

    def add_audio(self, frame: AudioFrame, position: int | None = None) -> None:
        self.writer.add_audio(frame, position)

    def clip_of(self, index: int) -> int:
        return self.writer.clip_of(index)

    def finish(self) -> list[ClipFile]:
        # A clip job stops a little past its clip: packets decoded but not shown stay out.
        self._mux(self.timer.ready() if self.partial else self.timer.finish())
        return self.writer.finish()

    def abort(self) -> None:
        self.writer.abort()

    def _mux(self, packets: list[Packet[Stream]]) -> None:
        for packet in packets:
            if packet.opaque in self._own:
                self._own.discard(packet.opaque)
                self.writer.add_video(packet)
