"""One clip of a planned recording, converted as the single pass would have converted it.

The pass seeks to the keyframe the plan names and decodes forward. Frames before the clip are shown
to the dead-frame judge only (its history), frames after it only until the last sampled frame's
verdict is settled (its lookahead); the clip's own frames are encoded, sampled and judged. Frames
are numbered from the index and timed from the recording's origin, so names, ranges and verdicts
equal the single pass's; the pass checks that every packet it sent became one frame, or raises
NotCuttable (the numbering would be wrong).
"""

from __future__ import annotations

import collections
import math
import queue
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from av.audio.frame import AudioFrame

from ..errors import NotCuttable
from ..handover import DeadFrame, KeptFrame, OutputHandler, describe_file
from ..jpeg_sampler import JpegSampler
from ..labeling.detector import make_judge
from ..media.clips import ClipEncoder, ClipFile
from ..media.decode import DecodedFrame, DecodePass
from ..media.encoder_thread import EncoderThread
from ..media.encoders import require_encoders
from ..media.picture import FrameConverter
from ..media.probe import MediaSource, open_input, select_streams, video_facts
from ..media.timing import frame_ticks
from ..pipeline import StopCheck, media_errors
from ..settings import PipelineConfig
from .plan import ClipSpan, Plan


@dataclass
class ClipPassResult:
    clip: ClipFile
    frames: int
    jpegs: list[KeptFrame]
    dead_frames: list[DeadFrame]
    decode_errors: int
    error_messages: list[str]
    steps: dict[int, int] = field(default_factory=dict)
    """Ticks between consecutive frames -> how often, for the clip's frames (fps as played)."""
    last_pts: int = 0
    audio_end: int | None = None
    """The last clip only: where the recording's decoded audio ends, in samples."""


def process_clip(src: MediaSource, plan: Plan, index: int, workdir: Path, cfg: PipelineConfig, *,
                 on_output: OutputHandler, stop: StopCheck | None = None) -> ClipPassResult:  # fmt: skip
    """Convert clip ``index`` of ``plan``; the clip and its kept JPEGs go to ``on_output``."""
    require_encoders("libx264", "aac")
    workdir.mkdir(parents=True, exist_ok=True)
    with media_errors(plan.source.key):
        return _ClipPass(src, plan, plan.clip(index), workdir, cfg, on_output, stop).run()


class _ClipPass:
    def __init__(self, src: MediaSource, plan: Plan, span: ClipSpan, workdir: Path, cfg: PipelineConfig,
                 on_output: OutputHandler, stop: StopCheck | None) -> None:  # fmt: skip
        self.src, self.plan, self.span, self.workdir, self.cfg = src, plan, span, workdir, cfg
        self.on_output, self.stop = on_output, stop
        self.clip_ticks = Fraction(cfg.clip_seconds) / plan.facts.time_base
        self.lookahead = make_judge(cfg).lookahead_frames
        self.encoder: EncoderThread | None = None
        self.early_audio: list[tuple[AudioFrame, int | None]] = []
        self.finished: queue.SimpleQueue[ClipFile] = queue.SimpleQueue()
        self.steps: collections.Counter[int] = collections.Counter()
        self.last_pts: int | None = None  # the clip's last frame so far
        self.previous_pts: int | None = None  # any frame's
        self.previous_index = -1
        self.frame_ticks = frame_ticks(plan.facts.time_base, plan.facts.fps)
        self.audio_rate = self.audio_channels = 0  # set once the streams are open

    def run(self) -> ClipPassResult:
        plan, span = self.plan, self.span
        with open_input(self.src, plan.source.key) as container:
            video, audio, _ = select_streams(container, plan.source.key)
            facts = video_facts(container, video, audio, self.cfg)
            if facts != plan.facts:
                raise NotCuttable("the file's streams differ from the plan's (was the object replaced?)")
            decoded = DecodePass(container, video, audio, facts, plan.seek_point(span))
            self.audio_rate = audio.codec_context.sample_rate if audio is not None else 0
            self.audio_channels = audio.codec_context.channels if audio is not None else 0
            jpegs = JpegSampler(self.workdir, self.cfg, facts, self.on_output, thin=False)  # finish thins
            try:
                ended = self._decode(decoded, jpegs)
                jpegs.finish()
                if self.encoder is None:
                    raise NotCuttable(f"clip {span.index} decoded no frame of its own")
                (clip,) = self.encoder.finish()
            except BaseException:
                if self.encoder is not None:
                    self.encoder.abort()
                raise
        frames = clip.last_frame - clip.first_frame + 1
        self.on_output(describe_file("clip", clip.index, clip.path, True, frames, clip.packet_md5))
        jpegs.hand_over_review(paged=True)  # this clip's page
        audio_end = None
        if ended and decoded.first_audio_sample is not None:
            audio_end = decoded.first_audio_sample + decoded.audio_samples
        return ClipPassResult(
            clip=clip, frames=frames,
            jpegs=sorted(jpegs.kept, key=lambda f: f.index), dead_frames=sorted(jpegs.dead, key=lambda d: d.index),
            decode_errors=decoded.errors.count, error_messages=decoded.errors.messages,
            steps=dict(self.steps), last_pts=self.last_pts or 0, audio_end=audio_end,
        )  # fmt: skip

    def _decode(self, decoded: DecodePass, jpegs: JpegSampler) -> bool:
        """Decode until the clip and its lookahead are done; True if the recording ended first."""
        after = 0  # frames seen past the clip
        audio_at = None  # position of the next audio sample on the recording's timeline
        for item in decoded:
            if not isinstance(item, DecodedFrame):
                if audio_at is None:
                    audio_at = decoded.first_audio_sample
                self._add_audio(item, audio_at)
                audio_at = None if audio_at is None else audio_at + item.samples
                if after >= self.lookahead and self._audio_done(audio_at):
                    return False
                continue
            if self.stop is not None:
                self.stop()
            clip = math.floor(item.pts / self.clip_ticks)
            if item.index >= self.span.judge_from:
                jpegs.observe(item, mine=clip == self.span.index)
            if clip == self.span.index:
                self._add_video(item)
            self.previous_pts, self.previous_index = item.pts, item.index
            if clip > self.span.index:
                after += 1
                if after >= self.lookahead and self._audio_done(audio_at):
                    return False
        return True

    def _add_video(self, item: DecodedFrame) -> None:
        if self.last_pts is not None and item.index != self.previous_index + 1:
            raise NotCuttable(f"frame {item.index} follows frame {self.previous_index}: the frames cannot be "
                              "numbered as one pass would")  # fmt: skip
        if self.encoder is None:
            facts = self.plan.facts
            clips = ClipEncoder(self.workdir, facts, self.cfg, self.audio_rate or None, self.audio_channels,
                                self.finished.put, only_clip=self.span.index, first_frame=item.index)  # fmt: skip
            self.encoder = EncoderThread(clips, FrameConverter(facts.width, facts.height))
            for frame, position in self.early_audio:
                self.encoder.add_audio(frame, position)
            self.early_audio.clear()
        if self.previous_pts is not None:  # as the single pass counts: every frame but the first
            self.steps[item.pts - self.previous_pts] += 1
        self.encoder.add_video(item.frame, item.pts)
        self.last_pts = item.pts

    def _add_audio(self, frame: AudioFrame, position: int | None) -> None:
        """``position`` places the first sample the clip's audio sees (later ones are ignored)."""
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
        return audio_at >= (self.last_pts + self.frame_ticks) * self.plan.facts.time_base * self.audio_rate
