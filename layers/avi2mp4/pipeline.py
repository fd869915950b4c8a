"""One decode pass per video: transcode, sample JPEGs and judge frames from the same frames.

The core knows paths, not buckets: it reads a local file, writes into a work folder, and hands each
finished output to ``on_output`` (which takes ownership of the file) as soon as it is final, so the
work folder stays small however long the video is. Outputs are identified by role (clip number,
frame index), never by a user-facing name: naming is ``outputs.names``'s job.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np
from av.video.frame import VideoFrame

from .errors import Avi2Mp4Error, NoDecodableFrames, ResourceLimit, UnsupportedVideo
from .labeling.detector import Verdict, make_judge
from .labeling.jpeg import encode_jpeg, is_sampled
from .labeling.judgements import change_thumbnail, frame_difference, sharpness
from .labeling.review_sheet import ReviewPages
from .labeling.thumbnail import luma_thumbnail
from .media.clips import ClipEncoder, ClipFile
from .media.decode import DecodedFrame, DecodePass
from .media.encoder_thread import EncoderThread
from .media.encoders import require_encoders
from .media.picture import FrameConverter
from .media.probe import VideoFacts, open_input, select_streams, video_facts
from .settings import PipelineConfig

PROGRESS_EVERY_FRAMES = 25


@dataclass(frozen=True)
class OutputFile:
    """A finished output in the work folder: a clip (``index`` = clip number), a kept JPEG
    (``index`` = source frame index) or a review sheet page (``index`` = page = 120 s segment;
    ``split``: one of several pages)."""

    kind: Literal["clip", "jpeg", "review"]
    index: int
    path: Path
    size: int
    sha256: str
    split: bool = False
    """Clips only: one of the clips of a split video (else the whole video)."""
    frames: int = 0
    """Clips only: how many video frames it holds."""


@dataclass(frozen=True)
class KeptFrame:
    """A sampled frame that became a JPEG."""

    index: int
    pts_seconds: float
    sharpness: float = 0.0
    """Variance of the Laplacian of its luma thumbnail (``labeling.judgements.sharpness``)."""
    change: np.ndarray | None = field(default=None, compare=False, repr=False)
    """Its coarse picture (``labeling.judgements.change_thumbnail``) when --min-change is on."""


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


OutputHandler = Callable[[OutputFile], None]
ProgressHandler = Callable[[Progress], None]
StopCheck = Callable[[], None]
"""Called at every decoded frame, on the decoding thread; raises to end the conversion."""


def describe_file(kind: Literal["clip", "jpeg", "review"], index: int, path: Path, split: bool = False,
                  frames: int = 0) -> OutputFile:  # fmt: skip
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return OutputFile(kind, index, path, path.stat().st_size, digest.hexdigest(), split, frames)


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
                on_output(describe_file("clip", clip.index, clip.path, clip.split, frames))

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


class JpegSampler:
    """Every ``frame_step``-th frame waits (at most one stride) for the judge's verdict; a kept
    one is JPEG-encoded then and handed over, a dead one is recorded with its reason."""

    def __init__(self, workdir: Path, cfg: PipelineConfig, facts: VideoFacts, on_output: OutputHandler,
                 thin: bool = True) -> None:  # fmt: skip
        self.workdir, self.cfg, self.facts, self.on_output = workdir, cfg, facts, on_output
        self.judge = make_judge(cfg)
        self.pending: dict[int, tuple[float, VideoFrame]] = {}
        self.kept: list[KeptFrame] = []
        self.dead: list[DeadFrame] = []
        self.review = ReviewPages(workdir, cfg.clip_seconds, facts.width, facts.height) if cfg.review_sheet else None
        self.thin = thin
        """Thin near-duplicates here (one pass); a clip job leaves it to finish, which alone
        knows the last JPEG kept before its clip."""
        self.last_change: np.ndarray | None = None

    def observe(self, item: DecodedFrame, mine: bool = True) -> None:
        """``mine``: whether this frame's JPEG is this pass's to write (a clip job also shows the
        judge its neighbours' frames, for history; their verdicts are the neighbours' to act on)."""
        if mine and is_sampled(item.index, self.cfg.frame_step):
            self.pending[item.index] = (float(item.pts * self.facts.time_base), item.frame)
        for verdict in self.judge.observe(item.index, item.frame, item.damaged):
            self._resolve(verdict)

    def finish(self) -> None:
        for verdict in self.judge.finish():
            self._resolve(verdict)

    def hand_over_review(self, paged: bool) -> None:
        """The review sheet's pages (``paged``: named by page even if there is one)."""
        if self.review is None:
            return
        pages = self.review.finish()
        for page in pages:
            self.on_output(describe_file("review", page.number, page.path, paged or len(pages) > 1,
                                         page.last_frame - page.first_frame + 1))  # fmt: skip

    def _resolve(self, verdict: Verdict) -> None:
        if verdict.index not in self.pending:
            return  # a neighbour's frame, seen for history only
        seconds, frame = self.pending.pop(verdict.index)
        luma = luma_thumbnail(frame)
        crisp = sharpness(luma)
        change = change_thumbnail(luma) if self.cfg.min_change > 0 else None
        reason = verdict.reason or self._labeling_reason(crisp, change)
        if self.review is not None:
            self.review.add(verdict.index, seconds, frame, reason)
        if reason is not None:
            self.dead.append(DeadFrame(verdict.index, reason))
            return
        if change is not None:
            self.last_change = change
        path = self.workdir / f"frame-{verdict.index:06d}.jpg"
        path.write_bytes(encode_jpeg(frame, self.cfg.jpeg_quality))
        self.on_output(describe_file("jpeg", verdict.index, path))
        self.kept.append(KeptFrame(verdict.index, seconds, round(crisp, 2), change))

    def _labeling_reason(self, crisp: float, change: np.ndarray | None) -> str | None:
        """Opt-in choices about live frames: too blurred, or too like the last JPEG kept."""
        if crisp < self.cfg.min_sharpness:
            return "blurred"
        if change is None or not self.thin or self.last_change is None:
            return None
        return "near_duplicate" if is_near_duplicate(change, self.last_change, self.cfg.min_change) else None


def is_near_duplicate(change: np.ndarray, last_kept: np.ndarray, min_change: float) -> bool:
    """``--min-change``: too little changed since the last JPEG kept (coarse pictures compared)."""
    return frame_difference(change, last_kept) < min_change
