"""One decode pass per video: transcode, sample JPEGs and judge frames from the same frames.

The core knows paths, not buckets: it reads a local file, writes into a work folder, and hands each
finished output to ``on_output`` (which takes ownership of the file) as soon as it is final, so the
work folder stays small however long the video is. Outputs are identified by role (clip number,
frame index), never by a user-facing name: naming is ``outputs.names``'s job.
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from .errors import Avi2Mp4Error, NoDecodableFrames, ResourceLimit, UnsupportedVideo
from .handover import DeadFrame, KeptFrame, OutputHandler, describe_file
from .jpeg_sampler import JpegSampler
from .media.clips import ClipEncoder, ClipFile
from .media.decode import DecodedFrame, DecodePass
from .media.encoder_thread import EncoderThread
from .media.encoders import require_encoders
from .media.picture import FrameConverter
from .media.probe import VideoFacts, open_input, select_streams, video_facts
from .settings import PipelineConfig

PROGRESS_EVERY_FRAMES = 25


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
    fps: Fraction
    """The rate the frames play at, as decoding showed it (may differ from ``facts.fps``)."""
    frames_decoded: int
    duration_seconds: float
    clips: list[ClipFile]
    jpegs: list[KeptFrame]
    dead_frames: list[DeadFrame]
    decode_errors: int
    error_messages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """Audio left out, header claims that decoding did not bear out."""


ProgressHandler = Callable[[Progress], None]
StopCheck = Callable[[], None]
"""Called at every decoded frame, on the decoding thread; raises to end the conversion."""


def process_video(
    src: Path,
    workdir: Path,
    cfg: PipelineConfig,
    *,
    on_output: OutputHandler,
    progress: ProgressHandler | None = None,
    stop: StopCheck | None = None,
) -> PipelineResult:
    """Convert ``src`` in one decode pass. Raises an ``InvalidInput`` subclass on bad media.

    ``on_output`` is called for each clip and each kept JPEG once it is final; on an exception
    the caller owns cleaning up what it already received. The dead-frame filter is the one the
    settings ask for (``make_judge``).
    """
    require_encoders("libx264", "aac")
    workdir.mkdir(parents=True, exist_ok=True)
    with media_errors(src.name):
        return _convert(src, workdir, cfg, on_output, progress, stop or _never)


@contextlib.contextmanager
def media_errors(name: str) -> Iterator[None]:
    """Whatever PyAV raises while converting ``name`` becomes a typed, one-line error."""
    try:
        yield
    except Avi2Mp4Error:
        raise
    except (MemoryError, av.ExternalError) as exc:  # x264 or a decoder could not allocate
        why = str(exc) or type(exc).__name__
        raise ResourceLimit(f"{name}: out of memory converting it ({why}): give the function more memory, "
                            "or convert it with the CLI on a bigger machine") from exc  # fmt: skip
    except av.FFmpegError as exc:
        if isinstance(exc, OSError) and not isinstance(exc, ValueError):
            raise  # the disk or the file system, not the video
        raise UnsupportedVideo(f"{name}: FFmpeg cannot convert it: {exc}") from exc
    except (OverflowError, ZeroDivisionError) as exc:  # absurd header values reaching arithmetic
        raise UnsupportedVideo(f"{name}: implausible stream parameters ({exc})") from exc


def _never() -> None:
    """The default StopCheck: run to the end."""


def _convert(src: Path, workdir: Path, cfg: PipelineConfig, on_output: OutputHandler,
             progress: ProgressHandler | None, stop: StopCheck) -> PipelineResult:  # fmt: skip
    with open_input(src) as container:
        video, audio, warnings = select_streams(container, src.name)
        facts = video_facts(container, video, audio, cfg)
        decoded = DecodePass(container, video, audio, facts)
        expected = float(container.duration / av.time_base) if container.duration else None
        jpegs = JpegSampler(workdir, cfg, facts, on_output)
        finished: queue.SimpleQueue[ClipFile] = queue.SimpleQueue()  # filled on the encoder thread
        rate = audio.codec_context.sample_rate if audio is not None else None
        channels = audio.codec_context.channels if audio is not None else 0
        encoder = EncoderThread(ClipEncoder(workdir, facts, cfg, rate or None, channels, finished.put),
                                FrameConverter(facts.width, facts.height))  # fmt: skip

        def hand_over_clips() -> None:
            while not finished.empty():
                clip = finished.get()
                frames = clip.last_frame - clip.first_frame + 1
                on_output(describe_file("clip", clip.index, clip.path, clip.split, frames, clip.packet_md5))

        try:
            for item in decoded:
                if not isinstance(item, DecodedFrame):
                    encoder.add_audio(item)
                    continue
                stop()
                jpegs.observe(item)
                encoder.add_video(item.frame, item.pts)
                hand_over_clips()
                if progress is not None and item.index % PROGRESS_EVERY_FRAMES == 0:
                    progress(Progress(item.index + 1, float(item.pts * facts.time_base), expected))
            jpegs.finish()
            if decoded.frames == 0:
                errors = decoded.errors.count
                why = f"{errors} decode errors" if errors else "the file holds no frames"
                raise NoDecodableFrames(f"no frame of the {facts.codec} video decodes ({why})")
            clips = encoder.finish()
            hand_over_clips()
            jpegs.hand_over_review(paged=any(c.split for c in clips))
        except BaseException:
            encoder.abort()
            raise
    return PipelineResult(
        facts=facts,
        fps=decoded.fps,
        frames_decoded=decoded.frames,
        duration_seconds=decoded.duration_seconds,
        clips=clips,
        jpegs=sorted(jpegs.kept, key=lambda f: f.index),
        dead_frames=sorted(jpegs.dead, key=lambda d: d.index),
        decode_errors=decoded.errors.count,
        error_messages=decoded.errors.messages,
        warnings=warnings + header_mismatches(facts, decoded.frames, decoded.duration_seconds, decoded.audio_seconds),
    )


def header_mismatches(facts: VideoFacts, frames: int, video: float, audio: float | None) -> list[str]:
    """What the header promised and decoding did not bear out (headers lie; users should know):
    ``frames`` decoded, lasting ``video`` seconds, with ``audio`` seconds of sound."""
    found = []
    promised = facts.header_frames
    if promised > 0 and abs(promised - frames) > max(2, promised // 10):
        found.append(f"the header promises {promised} frames; {frames} decoded")
    if audio is not None and video > 0 and abs(audio - video) > max(1.0, video / 10):
        found.append(f"the audio lasts {audio:.2f} s, the video {video:.2f} s")
    return found
