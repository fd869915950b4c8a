"""H.264/AAC encoding into one or more MP4 clips, frame-exact, from a single encoder.

One libx264 encoder sees every frame. At each clip boundary the frame is forced to an IDR (closed
GOP), and the encoder's packets are routed by timestamp into one MP4 muxer per clip, rebased to
start at 0. Every clip therefore starts on a keyframe, plays on its own, and the clips together hold
each frame exactly once. Whether a video is "long" is only known at its end (headers lie), so when
it turns out to be short its segments are joined again by a stream copy (no re-encode).
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.filter
from av.audio.codeccontext import AudioCodecContext
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.codeccontext import VideoCodecContext
from av.video.frame import PictureType, VideoFrame
from av.video.reformatter import ColorRange, Colorspace
from av.video.stream import VideoStream

from .config import PipelineConfig
from .errors import EncoderUnavailable
from .frames import source_range
from .probe import VideoFacts
from .timing import frame_ticks

AUDIO_BITRATE = 128_000
MP4_OPTIONS = {"movflags": "+faststart"}


def require_encoders(*names: str) -> None:
    """Fail early, with a clear reason, on an FFmpeg build without the encoders we need."""
    for name in names:
        try:
            av.Codec(name, "w")
        except av.FFmpegError as exc:
            raise EncoderUnavailable(f"this FFmpeg build has no {name} encoder") from exc
        except ValueError as exc:
            raise EncoderUnavailable(f"this FFmpeg build has no {name} encoder") from exc


def even(n: int) -> int:
    return n - n % 2


class FrameConverter:
    """Any decoded frame -> yuv420p, BT.601, limited range, even size: what every browser plays.

    The source's range is honoured explicitly: MJPEG decodes to full range, and converting it as if
    it were limited would clip shadows and highlights (pitfalls: AVI 3). Odd sizes are cropped by
    one pixel (libx264 rejects them); scaling would blur the whole picture for a 1-pixel gain.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = even(width), even(height)
        self._crop: av.filter.Graph | None = None
        self._crop_key: tuple[int, int] | None = None

    def __call__(self, frame: VideoFrame) -> VideoFrame:
        # Same size but for the odd pixel: keep it (cropped below). Another size (the stream
        # changed resolution mid-way): scale to the encoder's.
        keep_size = (even(frame.width), even(frame.height)) == (self.width, self.height)
        out = frame.reformat(
            width=None if keep_size else self.width,
            height=None if keep_size else self.height,
            format="yuv420p",
            src_color_range=source_range(frame),
            dst_color_range=ColorRange.MPEG,
            dst_colorspace=Colorspace.ITU601,
            # One thread: x264 and the decoder already fill the cores; swscale's own pool only
            # added contention (720p, 2 cores: 5.6 s with auto threads, 5.2 s with one).
            threads=1,
        )
        if out.width != self.width or out.height != self.height:
            out = self._crop_to_even(out)
        return out

    def _crop_to_even(self, frame: VideoFrame) -> VideoFrame:
        key = (frame.width, frame.height)
        if self._crop is None or self._crop_key != key:
            graph = av.filter.Graph()
            src = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format,
                                   time_base=Fraction(1, 1000))  # fmt: skip
            crop = graph.add("crop", f"{self.width}:{self.height}:0:0")
            graph.link_nodes(src, crop, graph.add("buffersink")).configure()
            self._crop, self._crop_key = graph, key
        self._crop.vpush(frame)
        return self._crop.vpull()


@dataclass(frozen=True)
class ClipFile:
    index: int
    path: Path
    first_frame: int
    last_frame: int
    start_seconds: float
    duration_seconds: float


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


class ClipEncoder:
    """Encode frames once; write them as 120 s clips, or as one file when the video is short.

    Call ``add_video`` with converted frames in presentation order and ``add_audio`` with decoded
    audio, then ``finish``. ``on_clip`` receives each finished clip as soon as it is final, so the
    caller can move it out of the work folder while encoding goes on.
    """

    def __init__(
        self,
        workdir: Path,
        stem: str,
        facts: VideoFacts,
        cfg: PipelineConfig,
        audio_rate: int | None,
        audio_channels: int,
        on_clip: Callable[[ClipFile], None],
    ) -> None:
        self.workdir, self.stem, self.facts, self.cfg = workdir, stem, facts, cfg
        self.on_clip = on_clip
        self.time_base = facts.time_base
        self.frame_ticks = frame_ticks(facts.time_base, facts.fps)
        self.clip_ticks = Fraction(cfg.clip_seconds) / self.time_base
        self.split_ticks = Fraction(cfg.split_after_seconds) / self.time_base
        self.audio_rate = audio_rate
        self.audio_layout = "mono" if audio_channels == 1 else "stereo"
        self.audio_samples = 0
        self._encoder: VideoCodecContext | None = None
        self._segments: dict[int, _Segment] = {}
        self._held: list[ClipFile] = []  # closed, but may yet be joined if the video ends short
        self._delivered: list[ClipFile] = []
        self._long = False
        self._frames = 0
        self._audio_encoder: AudioCodecContext | None = None
        self._early_audio: list[AudioFrame] = []

    # ---- input -------------------------------------------------------------------------------
    def add_video(self, frame: VideoFrame, pts: int) -> None:
        """``frame`` is already converted (FrameConverter); ``pts`` is relative to the first frame."""
        seg_index = self._segment_of(pts)
        seg = self._segments.get(seg_index) or self._open_segment(seg_index, pts)
        # Decoded frames keep their source picture type (MJPEG: all I): passed on unchanged,
        # x264 would code every frame intra at twice the size. Only boundaries are forced.
        frame.pict_type = PictureType.I if seg.first_frame == self._frames else PictureType.NONE
        frame.pts = pts
        frame.time_base = self.time_base
        seg.last_frame = self._frames
        seg.end_pts = pts + self.frame_ticks
        self._frames += 1
        if pts >= self.split_ticks:
            self._long = True
        assert self._encoder is not None
        for packet in self._encoder.encode(frame):
            self._route_video(packet)

    def add_audio(self, frame: AudioFrame) -> None:
        if self.audio_rate is None:
            return
        if self._audio_encoder is None:
            # Decoders (frame threads) deliver the first picture a few packets late; hold the
            # audio that arrives first instead of dropping it, or sound would lead the picture.
            self._early_audio.append(frame)
            return
        self._encode_audio(frame)

    def _encode_audio(self, frame: AudioFrame | None) -> None:
        assert self._audio_encoder is not None
        if frame is not None:
            frame.pts = self.audio_samples
            frame.time_base = Fraction(1, frame.sample_rate)
            self.audio_samples += frame.samples
        for packet in self._audio_encoder.encode(frame):
            self._route_audio(packet)

    # ---- output ------------------------------------------------------------------------------
    def finish(self) -> list[ClipFile]:
        """Flush the encoders, close every clip, and return them in order (short: one file)."""
        if self._encoder is not None:
            for packet in self._encoder.encode(None):
                self._route_video(packet)
        if self._audio_encoder is not None:
            self._encode_audio(None)
        for index in sorted(self._segments):
            self._close_segment(index)
        if not self._long and len(self._held) > 1:
            self._held = [self._join(self._held)]
        elif not self._long and len(self._held) == 1:
            self._held = [self._rename_single(self._held[0])]
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
        path = self.workdir / f"{self.stem}_part{index:03d}.mp4"
        container = av.open(str(path), "w", format="mp4", options=MP4_OPTIONS)
        previous = self._segments.get(index - 1) or next(iter(self._segments.values()), None)
        audio: AudioStream | None = None
        if previous is None:
            video = self._new_video_stream(container)
            if self.audio_rate is not None:
                audio = container.add_stream("aac", rate=self.audio_rate, layout=self.audio_layout)
                audio.codec_context.bit_rate = AUDIO_BITRATE
                self._audio_encoder = audio.codec_context
        else:
            # Same encoder, same parameters and extradata: copy them from the open segment.
            video = container.add_stream_from_template(previous.video)
            if previous.audio is not None:
                audio = container.add_stream_from_template(previous.audio)
        seg = _Segment(index, path, container, video, audio, self._frames, self._frames, pts, pts)
        self._segments[index] = seg
        if self._early_audio and self._audio_encoder is not None:
            early, self._early_audio = self._early_audio, []
            for frame in early:
                self._encode_audio(frame)
        return seg

    def _new_video_stream(self, container: OutputContainer) -> VideoStream:
        stream = container.add_stream("libx264", rate=self.facts.fps)
        ctx = stream.codec_context
        ctx.width, ctx.height = even(self.facts.width), even(self.facts.height)
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = self.time_base
        stream.time_base = self.time_base
        ctx.color_range = ColorRange.MPEG
        ctx.colorspace = Colorspace.SMPTE170M  # what FrameConverter produces (BT.601)
        if self.facts.sample_aspect_ratio:
            ctx.sample_aspect_ratio = self.facts.sample_aspect_ratio
        # AUTO = frame + slice; libx264 then uses frame threads (the CLI's choice), ~12 % faster.
        ctx.thread_type = "AUTO"
        ctx.options = {
            "preset": self.cfg.x264_preset,
            "crf": str(self.cfg.x264_crf),
            "forced-idr": "1",
        }
        ctx.open()
        self._encoder = ctx
        return stream

    def _route_video(self, packet: Packet[Stream]) -> None:
        if packet.pts is None:
            return
        seg = self._segments[self._segment_of(packet.pts)]
        self._mux(seg, seg.video, packet, seg.start_pts * self.time_base)
        # A packet from segment k+1 means segment k's video is complete (closed GOP at the IDR).
        for index in [i for i in self._segments if i < seg.index]:
            self._close_segment(index)

    def _route_audio(self, packet: Packet[Stream]) -> None:
        if packet.pts is None or packet.time_base is None:
            return
        t = packet.pts * packet.time_base
        candidates = [s for s in self._segments.values() if s.audio is not None]
        if not candidates:
            return
        # The clip whose time span holds this packet, or the nearest open one at the edges.
        seg = min(candidates, key=lambda s: _distance(t, s.start_pts * self.time_base,
                                                      s.end_pts * self.time_base))  # fmt: skip
        assert seg.audio is not None
        self._mux(seg, seg.audio, packet, seg.start_pts * self.time_base)

    @staticmethod
    def _mux(seg: _Segment, stream: VideoStream | AudioStream, packet: Packet[Stream], start: Fraction) -> None:
        tb = packet.time_base
        offset = round(start / tb)
        packet.pts = packet.pts - offset if packet.pts is not None else None
        packet.dts = packet.dts - offset if packet.dts is not None else None
        packet.stream = stream
        seg.container.mux(packet)

    def _close_segment(self, index: int) -> None:
        seg = self._segments.pop(index)
        seg.container.close()
        clip = ClipFile(
            index=seg.index,
            path=seg.path,
            first_frame=seg.first_frame,
            last_frame=seg.last_frame,
            start_seconds=float(seg.start_pts * self.time_base),
            duration_seconds=float((seg.end_pts - seg.start_pts) * self.time_base),
        )
        self._held.append(clip)
        if self._long:
            # Known to be a split video: every closed clip is final. Hand it over now so the
            # work folder never holds finished clips twice.
            self._deliver()

    def _deliver(self) -> None:
        for clip in self._held:
            self.on_clip(clip)
            self._delivered.append(clip)
        self._held.clear()

    def _rename_single(self, clip: ClipFile) -> ClipFile:
        path = self.workdir / f"{self.stem}.mp4"
        clip.path.rename(path)
        return ClipFile(0, path, clip.first_frame, clip.last_frame, 0.0,
                        clip.duration_seconds)  # fmt: skip

    def _join(self, parts: list[ClipFile]) -> ClipFile:
        """Stream-copy the segments of a short video back into one MP4, timestamps restored."""
        path = self.workdir / f"{self.stem}.mp4"
        with av.open(str(path), "w", format="mp4", options=MP4_OPTIONS) as out:
            streams: dict[int, Stream] = {}
            for part in parts:
                with av.open(str(part.path)) as src:
                    if not streams:
                        for s in src.streams:
                            streams[s.index] = out.add_stream_from_template(s)
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
        total = sum(p.duration_seconds for p in parts)
        return ClipFile(0, path, parts[0].first_frame, parts[-1].last_frame, 0.0, total)


def _distance(t: Fraction, start: Fraction, end: Fraction) -> Fraction:
    if t < start:
        return start - t
    if t >= end:
        return t - end
    return Fraction(0)


_Work = tuple[VideoFrame | AudioFrame, int]


class EncoderThread:
    """Runs a ClipEncoder on its own thread.

    PyAV releases the GIL inside decode, swscale and encode, so decoding on the caller's thread
    while this thread converts and encodes overlaps the two, as the ffmpeg CLI does; a serial loop
    left a core idle (wall time 1.3x the CLI's). The queue is bounded, so memory stays flat:
    the decoder waits when the encoder falls behind.
    """

    def __init__(self, encoder: ClipEncoder, converter: FrameConverter, depth: int = 8) -> None:
        self.encoder, self.converter = encoder, converter
        self._queue: queue.Queue[_Work | None] = queue.Queue(maxsize=depth)  # None: stop
        self._error: BaseException | None = None
        self._clips: list[ClipFile] = []
        self._thread = threading.Thread(target=self._work, name="avi2mp4-encoder", daemon=True)
        self._thread.start()

    def add_video(self, frame: VideoFrame, pts: int) -> None:
        # Converted on the caller's (decoding) thread, which waits on this one anyway; the
        # encoder thread then only feeds x264, whose frame threads stall while it is busy.
        self._put((self.converter(frame), pts))

    def add_audio(self, frame: AudioFrame) -> None:
        self._put((frame, 0))

    def finish(self) -> list[ClipFile]:
        self._put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._clips

    def abort(self) -> None:
        if self._thread.is_alive():
            self._error = self._error or RuntimeError("aborted")
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(None)
            self._thread.join(timeout=30)
        self.encoder.abort()

    def _put(self, item: _Work | None) -> None:
        while True:
            if self._error is not None:
                raise self._error
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _work(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is None or self._error is not None:
                    break
                frame, pts = item
                if isinstance(frame, VideoFrame):
                    self.encoder.add_video(frame, pts)
                else:
                    self.encoder.add_audio(frame)
            if self._error is None:
                self._clips = self.encoder.finish()
        except BaseException as exc:
            self._error = exc
            # Unblock a producer waiting on a full queue.
            with contextlib.suppress(queue.Empty):
                while True:
                    self._queue.get_nowait()
