"""The decode pass: one loop that transcodes, samples JPEGs and judges frames from the same decoded
frames, over a whole recording (one pass) or over one clip of it (a clip job).

The core knows paths, not buckets: it reads a local file (or a seekable file object), writes into a
work folder, and hands each finished output to ``on_output`` (which takes ownership of the file) as
soon as it is final, so the work folder stays small however long the video is. Outputs are
identified by role (clip number, frame index), never by a user-facing name: naming is
``outputs.names``'s job.

A clip job (``Span.clip``) starts at a keyframe before its clip (``SeekPoint``): the frames before
the clip are shown to the dead-frame judge only (its history), the frames after it only until the
last verdict is settled (its lookahead), so names, ranges and verdicts equal the one pass's.
"""

from __future__ import annotations

import collections
import contextlib
import math
import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream

from .errors import Avi2Mp4Error, NoDecodableFrames, NotCuttable, ResourceLimit, UnsupportedVideo
from .handover import DeadFrame, KeptFrame, OutputHandler, describe_file
from .jpeg_sampler import JpegSampler
from .media.clips import ClipCopier, ClipEncoder, ClipFile
from .media.decode import CopiedPacket, DecodedFrame, DecodePass, SeekPoint
from .media.encoder_thread import EncoderThread
from .media.encoders import require_encoders
from .media.picture import FrameConverter
from .media.picture_setup import PictureChain, PictureSetup, decide_setup, plain_setup
from .media.probe import MediaSource, VideoFacts, open_input, select_streams, video_facts
from .media.timing import frame_ticks, played_rate
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
    setup: PictureSetup | None = None
    """What was done to the pictures (deinterlaced, colour), for the manifest."""


@dataclass(frozen=True)
class Span:
    """What a pass converts: the whole recording, or one clip of it."""

    clip: int | None = None
    """None: the whole recording. Else the clip whose frames (by time) are this pass's own."""
    judge_from: int = 0
    """The first frame shown to the dead-frame judge (a clip job: its history, before the clip)."""
    seek: SeekPoint | None = None
    """Where decoding starts (a clip job), and how frames are numbered and timed from there."""
    setup: PictureSetup | None = None
    """How pictures are prepared (a clip job: the plan's); None: decided from the first pictures."""
    frames: tuple[int, int] | None = None
    """A clip job of a copied stream: its clip's first and last frame (clips start at IDR pictures,
    so they are ranges of frames, not of time)."""


@dataclass
class PassResult:
    """What one pass decoded of its own frames (a clip job: its clip's), and what it produced."""

    facts: VideoFacts
    clips: list[ClipFile]
    jpegs: list[KeptFrame]
    dead_frames: list[DeadFrame]
    frames: int
    """Own frames decoded."""
    decode_errors: int
    error_messages: list[str]
    steps: dict[int, int]
    """Ticks between consecutive frames -> how often, for the own frames (fps as played)."""
    last_pts: int
    audio_end: int | None
    """Where the recording's decoded audio ends, in samples, if this pass reached its end and knows
    its audio's place (a clip job); None otherwise."""
    audio_seconds: float | None
    warnings: list[str]
    setup: PictureSetup


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
    r = run_pass(src, src.name, workdir, cfg, Span(), on_output=on_output, progress=progress, stop=stop)
    fps = played_rate(r.steps, r.facts.time_base, r.facts.fps)[1]
    duration = picture_end(r.clips)
    return PipelineResult(
        facts=r.facts,
        fps=fps,
        frames_decoded=r.frames,
        duration_seconds=duration,
        clips=r.clips,
        jpegs=r.jpegs,
        dead_frames=r.dead_frames,
        decode_errors=r.decode_errors,
        error_messages=r.error_messages,
        warnings=r.warnings + header_mismatches(r.facts, r.frames, duration, r.audio_seconds),
        setup=r.setup,
    )


def run_pass(src: MediaSource, name: str, workdir: Path, cfg: PipelineConfig, span: Span, *,
             on_output: OutputHandler, progress: ProgressHandler | None = None, stop: StopCheck | None = None,
             expected_facts: VideoFacts | None = None) -> PassResult:  # fmt: skip
    """One decode pass over ``span`` of ``src`` (``name`` in messages). ``expected_facts``: what the
    plan saw (a clip job); a file whose streams differ is not the one planned (``NotCuttable``)."""
    require_encoders("libx264", "aac")
    workdir.mkdir(parents=True, exist_ok=True)
    # Decided on a copy of its own, before the pass opens the file (a file object has one position).
    setup = span.setup or decide_setup(src, name, cfg)
    with media_errors(name), open_input(src, name) as container:
        video, audio, warnings = select_streams(container, name)
        facts = video_facts(container, video, audio, cfg)
        if expected_facts is not None and facts != expected_facts:
            raise NotCuttable("the file's streams differ from the plan's (was the object replaced?)")
        setup = setup or plain_setup(facts.width, facts.height, cfg.deinterlace)
        decoded = DecodePass(container, video, audio, facts, span.seek, copy=setup.copy.copy)
        expected = float(container.duration / av.time_base) if container.duration else None
        driver = _Driver(decoded, audio, workdir, cfg, span, setup, on_output, progress, stop or _never,
                         expected)  # fmt: skip
        result = driver.run()
    result.warnings = warnings + result.warnings
    return result


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


class _Driver:
    """The loop of one pass. Every decoded frame from ``span.judge_from`` on is shown to the judge;
    the own frames (all of them, or the clip's by time) are encoded and sampled. A clip job stops
    once the judge has settled every sampled frame of the clip (its lookahead) and the audio has
    reached the clip's end."""

    def __init__(self, decoded: DecodePass, audio: AudioStream | None, workdir: Path, cfg: PipelineConfig,
                 span: Span, setup: PictureSetup, on_output: OutputHandler, progress: ProgressHandler | None,
                 stop: StopCheck, expected: float | None) -> None:  # fmt: skip
        self.decoded, self.workdir, self.cfg, self.span, self.setup = decoded, workdir, cfg, span, setup
        self.facts = facts = decoded.facts
        self.on_output, self.progress, self.stop, self.expected = on_output, progress, stop, expected
        self.chain = PictureChain(setup)
        # A copied stream's clips are cut at IDR pictures: its review pages follow its clips.
        page_of = self._clip_of if setup.copy.copy else None
        self.jpegs = JpegSampler(workdir, cfg, facts, on_output, thin=span.clip is None,  # finish thins clips
                                 matrix=setup.rendition.working_matrix, page_of=page_of)  # fmt: skip
        self.clip_ticks = Fraction(cfg.clip_seconds) / facts.time_base
        self.frame_ticks = frame_ticks(facts.time_base, facts.fps)
        # Frames past a clip to decode: the judge's lookahead, and at least one (the frame that
        # shows the clip has ended; with no lookahead, audio alone must not end a clip job early).
        self.lookahead = max(1, self.jpegs.judge.lookahead_frames)
        self.audio_rate = audio.codec_context.sample_rate if audio is not None else 0
        self.audio_channels = audio.codec_context.channels if audio is not None else 0
        self.encoder: EncoderThread | ClipCopier | None = None  # made at the first own frame (copy: packet)
        self.early_audio: list[tuple[AudioFrame, int | None]] = []
        self.finished: queue.SimpleQueue[ClipFile] = queue.SimpleQueue()  # filled on the encoder thread
        self.steps: collections.Counter[int] = collections.Counter()
        self.own = 0
        self.after = 0  # frames seen past a clip job's clip
        self.last_pts: int | None = None  # the last own frame's
        self.previous_pts: int | None = None  # any frame's
        self.previous_index = -1

    def run(self) -> PassResult:
        decoded, span = self.decoded, self.span
        try:
            ended = self._decode()
            self.jpegs.finish()
            if self.encoder is None or self.own == 0:
                if span.clip is not None:
                    raise NotCuttable(f"clip {span.clip} decoded no frame of its own")
                errors = decoded.errors.count
                why = f"{errors} decode errors" if errors else "the file holds no frames"
                raise NoDecodableFrames(f"no frame of the {self.facts.codec} video decodes ({why})")
            clips = self.encoder.finish()
            self._hand_over_clips()
            self.jpegs.hand_over_review(paged=any(c.split for c in clips))
        except BaseException:
            self.jpegs.abort()
            if self.encoder is not None:
                self.encoder.abort()
            raise
        audio_end = None
        if ended and decoded.first_audio_sample is not None:
            audio_end = decoded.first_audio_sample + decoded.audio_samples
        return PassResult(
            facts=self.facts, clips=clips,
            jpegs=sorted(self.jpegs.kept.values(), key=lambda f: f.index),
            dead_frames=sorted(self.jpegs.dead, key=lambda d: d.index),
            frames=self.own, decode_errors=decoded.errors.count, error_messages=decoded.errors.messages,
            steps=dict(self.steps), last_pts=self.last_pts or 0, audio_end=audio_end,
            audio_seconds=decoded.audio_seconds, warnings=[], setup=self.setup,
        )  # fmt: skip

    def _decode(self) -> bool:
        """Decode until the span and its lookahead are done; True if the recording ended first."""
        audio_at = None  # a clip job: position of the next audio sample on the recording's timeline
        for item in self.decoded:
            if isinstance(item, CopiedPacket):
                self._copier().add_packet(item.number, item.packet)
                continue
            if not isinstance(item, DecodedFrame):
                if audio_at is None:
                    audio_at = self.decoded.first_audio_sample
                self._add_audio(item, audio_at)
                audio_at = None if audio_at is None else audio_at + item.samples
                if self.after >= self.lookahead and self._audio_done(audio_at):
                    return False
                continue
            self.stop()
            for ready in self.chain.push(item):
                self._add_picture(ready)
            if self.after >= self.lookahead and self._audio_done(audio_at):
                return False
        for ready in self.chain.flush():
            self._add_picture(ready)
        return True

    def _add_picture(self, item: DecodedFrame) -> None:
        """A prepared picture (``PictureChain``): to the judge, and encoded if it is the span's own."""
        where = self._where(item)
        if isinstance(self.encoder, ClipCopier):  # first: the frame may start a clip (and a review page)
            self.encoder.add_frame(item.pts, item.packet, own=where == 0)
        if item.index >= self.span.judge_from:
            self.jpegs.observe(item, mine=where == 0)
        if where == 0:
            self._add_video(item)
        self.previous_pts, self.previous_index = item.pts, item.index
        if where > 0:
            self.after += 1

    def _where(self, item: DecodedFrame) -> int:
        """Where a frame lies against the span's own: <0 before, 0 in, >0 after. A clip of a copied
        stream is a range of frames (between IDR pictures); else frames belong by time."""
        if self.span.clip is None:
            return 0
        if self.span.frames is not None:
            first, last = self.span.frames
            return -1 if item.index < first else (0 if item.index <= last else 1)
        return math.floor(item.pts / self.clip_ticks) - self.span.clip

    def _clip_of(self, index: int) -> int:
        return self._copier().clip_of(index)

    def _copier(self) -> ClipCopier:
        """The clips of a copied stream, made at its first packet (before any frame decodes)."""
        if self.encoder is None:
            first = self.span.frames[0] if self.span.frames is not None else 0
            self.encoder = ClipCopier(self.workdir, self.facts, self.cfg, self.decoded.video, self.setup.rendition,
                                      self.audio_rate or None, self.audio_channels, self.finished.put,
                                      only_clip=self.span.clip, first_frame=first)  # fmt: skip
            for frame, position in self.early_audio:
                self.encoder.add_audio(frame, position)
            self.early_audio.clear()
        assert isinstance(self.encoder, ClipCopier)
        return self.encoder

    def _add_video(self, item: DecodedFrame) -> None:
        if self.last_pts is not None and item.index != self.previous_index + 1:
            raise NotCuttable(f"frame {item.index} follows frame {self.previous_index}: the frames cannot be "
                              "numbered as one pass would")  # fmt: skip
        if self.encoder is None:
            facts = self.facts
            rendition = self.setup.rendition
            clips = ClipEncoder(self.workdir, facts, self.cfg, rendition, self.audio_rate or None,
                                self.audio_channels, self.finished.put, only_clip=self.span.clip,
                                first_frame=item.index)  # fmt: skip
            converter = FrameConverter(facts.width, facts.height, rendition.working_matrix, rendition.output_matrix)
            self.encoder = EncoderThread(clips, converter)
            for frame, position in self.early_audio:
                self.encoder.add_audio(frame, position)
            self.early_audio.clear()
        if self.previous_pts is not None:  # every frame but the first has a step from the one before
            self.steps[item.pts - self.previous_pts] += 1
        if isinstance(self.encoder, EncoderThread):
            self.encoder.add_video(item.frame, item.pts)
        self.own += 1
        self.last_pts = item.pts
        self._hand_over_clips()
        if self.progress is not None and item.index % PROGRESS_EVERY_FRAMES == 0:
            self.progress(Progress(item.index + 1, float(item.pts * self.facts.time_base), self.expected))

    def _add_audio(self, frame: AudioFrame, position: int | None) -> None:
        """``position`` places the first sample a clip job's audio sees (later ones are ignored)."""
        if self.encoder is not None:
            self.encoder.add_audio(frame, position)
        else:
            self.early_audio.append((frame, position))

    def _audio_done(self, audio_at: int | None) -> bool:
        """Whether the audio has been decoded past the clip's last frame (or there is none)."""
        if self.audio_rate == 0 or self.last_pts is None:
            return True
        if audio_at is None:
            return False
        return audio_at >= (self.last_pts + self.frame_ticks) * self.facts.time_base * self.audio_rate

    def _hand_over_clips(self) -> None:
        while not self.finished.empty():
            clip = self.finished.get()
            frames = clip.last_frame - clip.first_frame + 1
            self.on_output(describe_file("clip", clip.index, clip.path, clip.split, frames, clip.packet_md5))


def picture_end(clips: list[ClipFile]) -> float:
    """When the picture ends: where the last clip ends (its MP4 too). One duration everywhere: the
    summary line, the manifest's source and clips, the players."""
    last = max(clips, key=lambda c: c.start_seconds)
    return last.start_seconds + last.duration_seconds


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
