"""H.264/AAC encoding into one or more MP4 clips, frame-exact, from a single pair of encoders.

One libx264 encoder sees every frame. At each clip boundary the frame is forced to an IDR (closed
GOP), and the encoder's packets are routed by timestamp into one MP4 muxer per clip, rebased to
start at 0. Every clip therefore starts on a keyframe, plays on its own, and the clips together hold
each frame exactly once. Whether a video is "long" is only known at its end (headers lie), so when
it turns out to be short its segments are joined again by a stream copy (no re-encode).

Work files are named ``clip-000.mp4`` and ``whole.mp4``: the names users see come from
``outputs.names``, not from here.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from ..settings import PipelineConfig
from .encoders import AudioEncoder, VideoEncoder
from .probe import VideoFacts
from .timing import frame_ticks

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


@dataclass
class _Segment:
    index: int
    path: Path
    container: OutputContainer
    video: VideoStream
    audio: AudioStream | None
    first_frame: int
    last_frame: int
    start_pts: int  # video ticks
    end_pts: int  # exclusive, video ticks of the frame after the last one


class ClipWriter:
    """Routes encoded packets into one MP4 per ``clip_seconds`` of video, and hands each clip to
    ``on_clip`` as soon as it is final (at once for a long video; at the end for a short one,
    after joining its segments back into one file)."""

    def __init__(
        self,
        workdir: Path,
        facts: VideoFacts,
        cfg: PipelineConfig,
        video: VideoStream,
        audio: AudioStream | None,
        on_clip: Callable[[ClipFile], None],
    ) -> None:
        self.workdir, self.on_clip = workdir, on_clip
        self.video_template, self.audio_template = video, audio
        self.time_base = facts.time_base
        self.frame_ticks = frame_ticks(facts.time_base, facts.fps)
        self.clip_ticks = Fraction(cfg.clip_seconds) / self.time_base
        self.split_ticks = Fraction(cfg.split_after_seconds) / self.time_base
        self._segments: dict[int, _Segment] = {}
        self._held: list[ClipFile] = []  # closed, but may yet be joined if the video ends short
        self._delivered: list[ClipFile] = []
        self._early_audio: list[Packet[Stream]] = []  # audio that arrives before the first picture
        self._long = False
        self._frames = 0

    def begin_frame(self, pts: int) -> bool:
        """Account for the next frame (presentation order); True if it starts a clip."""
        index = self._segment_of(pts)
        seg = self._segments.get(index) or self._open_segment(index, pts)
        starts = seg.first_frame == self._frames
        seg.last_frame = self._frames
        seg.end_pts = pts + self.frame_ticks
        self._frames += 1
        self._long = self._long or pts >= self.split_ticks
        return starts

    def add_video(self, packet: Packet[Stream]) -> None:
        if packet.pts is None:
            return
        seg = self._segments[self._segment_of(packet.pts)]
        self._mux(seg, seg.video, packet)
        # A packet from segment k+1 means segment k's video is complete (closed GOP at the IDR).
        for index in [i for i in self._segments if i < seg.index]:
            self._close_segment(index)

    def add_audio(self, packet: Packet[Stream]) -> None:
        if packet.pts is None or packet.time_base is None:
            return
        if not self._segments:
            # Decoders (frame threads) deliver the first picture a few packets late; hold the
            # audio that arrives first instead of dropping it, or sound would lead the picture.
            self._early_audio.append(packet)
            return
        t = packet.pts * packet.time_base
        # The clip whose time span holds this packet, or the nearest open one at the edges.
        seg = min(self._segments.values(), key=lambda s: _distance(t, s.start_pts * self.time_base,
                                                                   s.end_pts * self.time_base))  # fmt: skip
        if seg.audio is not None:
            self._mux(seg, seg.audio, packet)

    def finish(self) -> list[ClipFile]:
        """Close every clip and return them in order (a short video: one file)."""
        for index in sorted(self._segments):
            self._close_segment(index)
        if not self._long and self._held:  # a short video after all: one file
            self._held = [join_clips(self._held, self.workdir / "whole.mp4")]
        self._deliver()
        return sorted(self._delivered, key=lambda c: c.index)

    def abort(self) -> None:
        """Close whatever is open without caring about errors; the caller deletes the workdir."""
        for seg in self._segments.values():
            with contextlib.suppress(Exception):  # best effort on an already failing path
                seg.container.close()
        self._segments.clear()

    # ---- internals ---------------------------------------------------------------------------
    def _segment_of(self, pts: int) -> int:
        return math.floor(pts / self.clip_ticks)

    def _open_segment(self, index: int, pts: int) -> _Segment:
        path = self.workdir / f"clip-{index:03d}.mp4"
        container = av.open(str(path), "w", format="mp4", options=MP4_OPTIONS)
        video = container.add_stream_from_template(self.video_template)
        audio = container.add_stream_from_template(self.audio_template) if self.audio_template else None
        seg = _Segment(index, path, container, video, audio, self._frames, self._frames, pts, pts)
        self._segments[index] = seg
        early, self._early_audio = self._early_audio, []
        for packet in early:
            self.add_audio(packet)
        return seg

    def _mux(self, seg: _Segment, stream: Stream, packet: Packet[Stream]) -> None:
        offset = round(seg.start_pts * self.time_base / packet.time_base)
        packet.pts = packet.pts - offset if packet.pts is not None else None
        packet.dts = packet.dts - offset if packet.dts is not None else None
        packet.stream = stream
        seg.container.mux(packet)

    def _close_segment(self, index: int) -> None:
        seg = self._segments.pop(index)
        seg.container.close()
        self._held.append(ClipFile(
            index=seg.index, path=seg.path, first_frame=seg.first_frame, last_frame=seg.last_frame,
            start_seconds=float(seg.start_pts * self.time_base),
            duration_seconds=float((seg.end_pts - seg.start_pts) * self.time_base), split=True,
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


def join_clips(parts: list[ClipFile], path: Path) -> ClipFile:
    """One file again: a single segment is renamed; several are stream-copied, timestamps restored."""
    total = sum(p.duration_seconds for p in parts)
    whole = ClipFile(0, path, parts[0].first_frame, parts[-1].last_frame, 0.0, total, split=False)
    if len(parts) == 1:
        parts[0].path.rename(path)
        return whole
    with av.open(str(path), "w", format="mp4", options=MP4_OPTIONS) as out:
        streams: dict[int, Stream] = {}
        for part in parts:
            with av.open(str(part.path)) as src:
                if not streams:
                    streams = {s.index: out.add_stream_from_template(s) for s in src.streams}
                start = Fraction(part.start_seconds).limit_denominator(1_000_000)
                for packet in src.demux():
                    if packet.dts is None and packet.pts is None:
                        continue  # demuxer's end-of-stream marker
                    offset = round(start / packet.time_base)
                    if packet.pts is not None:
                        packet.pts += offset
                    if packet.dts is not None:
                        packet.dts += offset
                    packet.stream = streams[packet.stream_index]
                    out.mux(packet)
            part.path.unlink()
    return whole


def _distance(t: Fraction, start: Fraction, end: Fraction) -> Fraction:
    if t < start:
        return start - t
    if t >= end:
        return t - end
    return Fraction(0)


class ClipEncoder:
    """Encode frames once; write them as clips. Call ``add_video`` with converted frames in
    presentation order and ``add_audio`` with decoded audio, then ``finish``."""

    def __init__(self, workdir: Path, facts: VideoFacts, cfg: PipelineConfig, audio_rate: int | None,
                 audio_channels: int, on_clip: Callable[[ClipFile], None]) -> None:  # fmt: skip
        self.video = VideoEncoder(facts, cfg)
        self.audio = AudioEncoder(audio_rate, audio_channels) if audio_rate else None
        audio_stream = self.audio.stream if self.audio else None
        self.writer = ClipWriter(workdir, facts, cfg, self.video.stream, audio_stream, on_clip)

    def add_video(self, frame: VideoFrame, pts: int) -> None:
        starts_clip = self.writer.begin_frame(pts)
        for packet in self.video.encode(frame, pts, keyframe=starts_clip):
            self.writer.add_video(packet)

    def add_audio(self, frame: AudioFrame) -> None:
        if self.audio is not None:
            for packet in self.audio.encode(frame):
                self.writer.add_audio(packet)

    def finish(self) -> list[ClipFile]:
        for packet in self.video.flush():
            self.writer.add_video(packet)
        if self.audio is not None:
            for packet in self.audio.flush():
                self.writer.add_audio(packet)
        clips = self.writer.finish()
        self.close()
        return clips

    def abort(self) -> None:
        self.writer.abort()
        self.close()

    def close(self) -> None:
        self.video.close()
        if self.audio is not None:
            self.audio.close()
