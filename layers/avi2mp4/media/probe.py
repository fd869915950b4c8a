"""Open a source by its content and establish the facts the pipeline can trust.

Headers lie (see pitfalls: AVI frame counts, durations, 1000 fps and 0/0 rates), so this module
only decides what *timeline* to use; frame counts and durations come from decoding.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.video.stream import VideoStream

from ..errors import EmptyFile, NoVideoStream, ResourceLimit, UnreadableVideo, UnsupportedVideo
from ..settings import PipelineConfig
from .memory import too_big
from .recorded_at import recorded_at


@dataclass(frozen=True)
class VideoFacts:
    container_format: str
    codec: str
    width: int
    height: int
    time_base: Fraction
    """Unit of the output timeline."""
    fps: Fraction
    """Nominal rate: the header's when plausible, else ``fallback_fps``."""
    sample_aspect_ratio: Fraction | None
    retimed: bool
    """True when the header rate was missing or implausible and frames are re-timed at ``fps``."""
    header_rate: Fraction | None
    header_frames: int
    audio_codec: str | None
    recorded_at: str | None = None
    """When the recording started, by the camera's clock (``media.recorded_at``), ISO 8601, no zone."""


MediaSource = Path | BinaryIO | io.RawIOBase
"""A path, or a seekable binary file (an S3 object read by ranges)."""


def open_input(path: MediaSource, name: str | None = None) -> InputContainer:
    """Open ``path`` by content (the extension is not trusted). Raises a typed error on failure.
    A seekable binary file object works too (an S3 object read by ranges, say)."""
    name = name or (path.name if isinstance(path, Path) else "the source")
    try:
        size = path.stat().st_size if isinstance(path, Path) else path.seek(0, io.SEEK_END)
    except OSError as exc:
        raise UnreadableVideo(f"cannot read {name}: {exc.strerror or exc}") from exc
    if size == 0:
        raise EmptyFile(f"{name} is empty (0 bytes)")
    refuse_huge_frames(_head(path))  # before FFmpeg probes (and allocates) a frame of that size
    try:
        if isinstance(path, Path):
            return av.open(str(path), metadata_errors="ignore")
        path.seek(0)
        return av.open(path, "r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise UnreadableVideo(f"{name} is not a readable video file ({exc.strerror or exc})") from exc


HEADER_BYTES = 256 << 10
"""Where an AVI's stream headers lie: its ``hdrl`` list comes first, before any frame."""


def _head(path: MediaSource) -> bytes:
    try:
        if isinstance(path, Path):
            with path.open("rb") as fh:
                return fh.read(HEADER_BYTES)
        path.seek(0)
        return path.read(HEADER_BYTES) or b""
    except OSError:
        return b""  # av.open says what is wrong with it


def declared_frame_sizes(head: bytes) -> list[tuple[int, int]]:
    """The frame sizes an AVI's header declares (``avih`` and each video stream's ``strf``)."""
    sizes = []
    at = head.find(b"avih")
    if at != -1 and len(head) >= at + 48:
        sizes.append(struct.unpack_from("<II", head, at + 40))
    for at in (m.start() for m in re.finditer(b"strh", head)):
        if head[at + 8 : at + 12] != b"vids":
            continue
        strf = head.find(b"strf", at)
        if strf != -1 and len(head) >= strf + 20:
            width, height = struct.unpack_from("<ii", head, strf + 12)  # BITMAPINFOHEADER: size, width, height
            sizes.append((abs(width), abs(height)))  # a negative height: rows top-down
    return sizes


def refuse_huge_frames(head: bytes) -> None:
    """ResourceLimit when an AVI's header declares frames this machine cannot hold (a damaged or
    hostile header: FFmpeg's probe would allocate one before a single check of ours)."""
    for width, height in declared_frame_sizes(head):
        problem = too_big(width, height)
        if problem is not None:
            raise ResourceLimit(f"{problem} (as its header declares)")


# The rates AAC carries (MPEG-4's sampling frequency table; FFmpeg's encoder takes exactly these).
AAC_SAMPLE_RATES = (96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
                    7_350)  # fmt: skip
# Audio at another rate is resampled to the nearest of them; rates outside this are no sound anyone
# recorded (a damaged header): that audio is left out, with a warning, and the picture converts.
SOURCE_RATES = (1_000, 384_000)
MAX_AUDIO_CHANNELS = 8
# Frame sizes libx264 accepts (and that a decoder can plausibly produce).
MIN_SIZE, MAX_SIZE = 2, 16_384


def select_streams(container: InputContainer, name: str) -> tuple[VideoStream, AudioStream | None, list[str]]:
    """The first real video stream (not cover art), the first usable audio stream if any, and
    warnings about audio that had to be left out."""
    videos = [s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)]
    if not videos:
        kind = "audio-only" if container.streams.audio else "has no video stream"
        raise NoVideoStream(f"{name} {kind}: nothing to convert" if kind == "audio-only" else f"{name} {kind}")
    video = videos[0]
    decoder: object = video.codec_context  # None (despite the stubs) when FFmpeg has no decoder
    if decoder is None:
        raise UnsupportedVideo("its video codec is not supported (FFmpeg has no decoder for it)")
    warnings: list[str] = []
    audio = None
    for stream in container.streams.audio:
        problem = _audio_problem(stream)
        if problem is None:
            audio = stream
            break
        warnings.append(f"audio stream {stream.index} left out: {problem}")
    if audio is not None and aac_rate(audio.codec_context.sample_rate) != audio.codec_context.sample_rate:
        rate = audio.codec_context.sample_rate
        warnings.append(f"audio resampled from {rate} Hz to {aac_rate(rate)} Hz, the nearest rate AAC carries")
    return video, audio, warnings


def aac_rate(rate: int) -> int:
    """The rate AAC carries nearest to ``rate`` (the higher one on a tie)."""
    return min(AAC_SAMPLE_RATES, key=lambda aac: (abs(aac - rate), -aac))


def _audio_problem(stream: AudioStream) -> str | None:
    decoder: object = stream.codec_context
    if decoder is None:
        return "FFmpeg has no decoder for its codec"
    ctx = stream.codec_context
    if not SOURCE_RATES[0] <= ctx.sample_rate <= SOURCE_RATES[1]:
        return f"{ctx.sample_rate} Hz is no plausible audio rate ({SOURCE_RATES[0]}..{SOURCE_RATES[1]} Hz)"
    if not 1 <= ctx.channels <= MAX_AUDIO_CHANNELS:
        return f"{ctx.channels} channels (1..{MAX_AUDIO_CHANNELS} are converted)"
    try:
        ctx.open()  # a header the decoder refuses fails here once, not on every packet
    except av.FFmpegError as exc:
        return f"the {ctx.name} decoder refuses its header ({exc.strerror or exc})"
    return None


def video_facts(
    container: InputContainer, video: VideoStream, audio: AudioStream | None, cfg: PipelineConfig
) -> VideoFacts:
    """Choose the output timeline: the source's when its rate is sane, else CFR at the fallback."""
    ctx = video.codec_context
    if not (MIN_SIZE <= ctx.width <= MAX_SIZE and MIN_SIZE <= ctx.height <= MAX_SIZE):
        raise UnsupportedVideo(f"the header gives a frame size of {ctx.width}x{ctx.height}, which cannot be "
                               f"encoded ({MIN_SIZE}..{MAX_SIZE} pixels a side)")  # fmt: skip
    problem = too_big(ctx.width, ctx.height)
    if problem is not None:  # from the header, before the decoder or x264 allocate a frame
        raise ResourceLimit(problem)
    header_rate = video.average_rate or video.base_rate or video.guessed_rate
    rate_ok = header_rate is not None and cfg.min_fps <= header_rate <= cfg.max_fps
    tb = video.time_base
    # A tick longer than a frame at min_fps cannot time frames (a 1e-9 fps header has 1e9 s ticks).
    tb_ok = tb is not None and 0 < tb <= 1 / Fraction(cfg.min_fps)
    if rate_ok and tb_ok:
        assert header_rate is not None and tb is not None
        fps, time_base, retimed = Fraction(header_rate), Fraction(tb), False
    else:
        fps = Fraction(cfg.fallback_fps).limit_denominator(1001)
        time_base, retimed = 1 / fps, True
    sar = ctx.sample_aspect_ratio
    return VideoFacts(
        container_format=container.format.name,
        codec=ctx.name,
        width=ctx.width,
        height=ctx.height,
        time_base=time_base,
        fps=fps,
        sample_aspect_ratio=Fraction(sar) if sar else None,
        retimed=retimed,
        header_rate=Fraction(header_rate) if header_rate else None,
        header_frames=video.frames,
        audio_codec=audio.codec_context.name if audio is not None else None,
        recorded_at=_iso(recorded_at({**container.metadata, **video.metadata})),
    )


def _iso(when: dt.datetime | None) -> str | None:
    return when.isoformat() if when is not None else None
