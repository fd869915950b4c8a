"""The two encoders of a conversion, each owned by one object for its whole life.

Each encoder lives in a small container of its own that is never written to: it gives the encoder
a stream whose parameters (SPS/PPS, AudioSpecificConfig) every clip's MP4 stream copies, so all
clips come from one x264 and one AAC encoder, with identical parameters.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import threading
from collections.abc import Iterator
from fractions import Fraction

import av
import av.logging
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.packet import Packet
from av.stream import Stream
from av.video.frame import PictureType, VideoFrame
from av.video.reformatter import ColorRange
from av.video.stream import VideoStream

from ..errors import EncoderUnavailable
from ..settings import PipelineConfig
from .colour import Rendition
from .picture import even
from .probe import VideoFacts

log = logging.getLogger(__name__)

AUDIO_BITRATE = 128_000
NONDETERMINISTIC_CPU = "AVX512"
"""x264's AVX-512 code makes its output vary run to run (measured with this build, core 165: 22
different streams in 30 encodes of one input, in PyAV and in the ffmpeg CLI alike); without it the
same input always gives the same bytes, at the same speed."""
_CPU_LOCK = threading.Lock()


def require_encoders(*names: str) -> None:
    """Fail early, with a clear reason, on an FFmpeg build without the encoders we need."""
    for name in names:
        try:
            av.Codec(name, "w")
        except (av.FFmpegError, ValueError) as exc:
            raise EncoderUnavailable(f"this FFmpeg build has no {name} encoder") from exc
    if "libx264" in names:
        x264_cpu_flags()  # asked once, now: not while a decode pass captures FFmpeg's log


@functools.cache
def x264_cpu_flags() -> str | None:
    """The CPU capabilities x264 detects here, less AVX-512, as its ``asm`` parameter takes them;
    None where nothing needs masking (no AVX-512: another machine, arm64) or x264 did not say."""
    with _CPU_LOCK:
        previous = av.logging.get_level()
        av.logging.set_level(av.logging.INFO)
        try:
            with av.logging.Capture(local=True) as logs:
                probe = av.open(io.BytesIO(), "w", format="mp4")
                stream = probe.add_stream("libx264", rate=25)
                ctx = stream.codec_context
                ctx.width = ctx.height = 64
                ctx.pix_fmt = "yuv420p"
                ctx.open()
                with contextlib.suppress(Exception):
                    probe.close()
        finally:
            av.logging.set_level(previous)
    said = [m for _, name, m in logs if name == "libx264" and m.startswith("using cpu capabilities:")]
    if not said:
        log.warning("x264 did not name its CPU capabilities; its output may differ run to run")
        return None
    names = said[0].split(":", 1)[1].split()
    if NONDETERMINISTIC_CPU not in names:
        return None
    return ",".join(n for n in names if n != NONDETERMINISTIC_CPU)


class _Holder:
    """An MP4 container in memory that only carries an encoder's stream (never muxed into)."""

    def __init__(self) -> None:
        self.container = av.open(io.BytesIO(), "w", format="mp4")

    def publish(self) -> None:
        """Copy the opened encoder's parameters to its stream, for the clips to copy in turn."""
        self.container.start_encoding()

    def close(self) -> None:
        with contextlib.suppress(Exception):  # nothing was written; nothing to keep
            self.container.close()


class VideoEncoder:
    """The conversion's one libx264 encoder. ``encode`` takes converted frames (FrameConverter)
    with their timestamps and forces an IDR where asked (clip boundaries: closed GOPs)."""

    def __init__(self, facts: VideoFacts, cfg: PipelineConfig, rendition: Rendition) -> None:
        self._holder = _Holder()
        stream = self._holder.container.add_stream("libx264", rate=facts.fps)
        ctx = stream.codec_context
        ctx.width, ctx.height = even(facts.width), even(facts.height)
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = stream.time_base = facts.time_base
        # What FrameConverter produces, said in full (VUI, and the MP4's colr box): players then
        # read the numbers as they were meant, whatever they would assume.
        ctx.color_range = ColorRange.MPEG
        ctx.colorspace = rendition.output_matrix  # an AVColorSpace value, as the stream stores it
        ctx.color_primaries = rendition.output_primaries
        ctx.color_trc = rendition.output_transfer
        if facts.sample_aspect_ratio:
            ctx.sample_aspect_ratio = facts.sample_aspect_ratio
        # AUTO = frame + slice; libx264 then uses frame threads (the CLI's choice), ~12 % faster.
        ctx.thread_type = "AUTO"
        ctx.options = {"preset": cfg.x264_preset, "crf": str(cfg.x264_crf), "forced-idr": "1"}
        flags = x264_cpu_flags()
        if flags is not None:  # the same input gives the same bytes (NONDETERMINISTIC_CPU)
            ctx.options = {**ctx.options, "x264-params": f"asm={flags}"}
        ctx.open()
        self._holder.publish()
        self.stream: VideoStream = stream
        self.time_base = facts.time_base

    def encode(self, frame: VideoFrame, pts: int, keyframe: bool) -> list[Packet[Stream]]:
        # Decoded frames keep their source picture type (MJPEG: all I): passed on unchanged,
        # x264 would code every frame intra at twice the size. Only clip starts are forced.
        frame.pict_type = PictureType.I if keyframe else PictureType.NONE
        frame.pts = pts
        frame.time_base = self.time_base
        return self.stream.codec_context.encode(frame)

    def flush(self) -> list[Packet[Stream]]:
        return self.stream.codec_context.encode(None)

    def close(self) -> None:
        self._holder.close()


def audio_layout(channels: int) -> str:
    """What the AAC output carries: mono stays mono, anything else is mixed to stereo."""
    return "mono" if channels == 1 else "stereo"


class AudioEncoder:
    """An AAC encoder (one per clip, and one for a whole short video); timestamps count samples
    from the first one it was given."""

    def __init__(self, rate: int, layout: str) -> None:
        self._holder = _Holder()
        stream = self._holder.container.add_stream("aac", rate=rate, layout=layout)
        stream.codec_context.bit_rate = AUDIO_BITRATE
        stream.codec_context.open()
        self._holder.publish()
        self.stream: AudioStream = stream
        self._samples = 0

    def encode(self, frame: AudioFrame) -> list[Packet[Stream]]:
        frame.pts = self._samples
        frame.time_base = Fraction(1, frame.sample_rate)
        self._samples += frame.samples
        return self.stream.codec_context.encode(frame)

    def flush(self) -> Iterator[Packet[Stream]]:
        yield from self.stream.codec_context.encode(None)

    def close(self) -> None:
        self._holder.close()
