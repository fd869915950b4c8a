"""The plan of a long recording: its clips as independent jobs (docs/long-recordings.md).

Made from the container's index alone (AVI ``idx1`` or OpenDML ``indx``, read by FFmpeg's demuxer
when the file is seekable), so planning an 8-hour recording reads its header, its index and its
first packets, not its body. Frame k is the k-th non-empty video chunk: what one pass counts when
every packet decodes into one frame (each clip job checks that for its own range). A clip's frames
are those whose time falls in its span, as in the single pass; the plan's ranges are estimates
from the index (B-frames reorder times), the clip jobs settle them by decoding.

A recording the index cannot describe exactly (no index, truncated, re-timed, not AVI) gets a
plan that says why: it takes the sequential path.

A stored plan is the authority of its run: every clip job, finish and clean-up checks the request it
was given (bucket, key, version, run) against it, and touches only what the plan's names derive.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import json
import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from av.container import InputContainer
from av.video.stream import VideoStream

from ..errors import NotCuttable
from ..labeling.detector import make_judge
from ..media.decode import SeekPoint
from ..media.picture_setup import PictureSetup, decide_setup
from ..media.probe import MediaSource, VideoFacts, open_input, select_streams, video_facts
from ..media.timing import frame_ticks
from ..pipeline import media_errors
from ..settings import PipelineConfig
from ..storage.port import SourceRef

PLAN_VERSION = 3
SEEK_MARGIN_FRAMES = 16
"""Extra history before a clip: the index's times are decode times, B-frames shift presentation."""
MAX_START_PACKETS = 1024
"""How far into the file the first audio packet is looked for (interleaving puts it within a second)."""
MIN_KEYFRAME_BYTES = 64
PACKED_PLACEHOLDER_BYTES = 8
"""Packed B-frames leave N-VOP placeholder chunks of a few bytes (6-7 with Xvid)."""
CHUNK_HEADER_BYTES = 8
"""A RIFF chunk's id and size: what every indexed chunk costs the file at least."""
MIN_BYTES_PER_SECOND = 512
"""The least a second of video can plausibly take (4 kbit/s: a time-lapse's few small frames): a
plan of more clips than the file's bytes can fill at that rate is not taken at its word."""
ORIGIN_PACKETS = 8
"""Packets read from the start for the first frame's presentation time (the smallest: B-frames) and audio's."""


@dataclass(frozen=True)
class ClipSpan:
    """One clip job: where to start decoding and which frames the index says are its own."""

    index: int
    first_frame: int
    last_frame: int
    seek_ts: int
    """Index timestamp of the keyframe to seek to (video stream's time base)."""
    seek_frame: int
    """Global index of that keyframe's frame."""
    judge_from: int
    """First frame to show the dead-frame judge (its history; at or after ``seek_frame``)."""
    window: list[int] | None = None
    """A copied stream's clip: its time span [start, end) in ticks from the first frame (clips of a
    copied stream start at IDR pictures, not at multiples of the clip length)."""


@dataclass(frozen=True)
class Plan:
    source: SourceRef
    facts: VideoFacts
    frames: int
    """Frames by the index (the single pass's count when each packet decodes into one frame)."""
    duration_seconds: float
    origin: int
    audio_origin: int | None
    audio_rate: int | None
    settings: dict[str, Any]
    clips: list[ClipSpan] = field(default_factory=list)
    sequential_because: str | None = None
    """Why the recording cannot be cut (then ``clips`` is empty), or None."""
    warnings: list[str] = field(default_factory=list)
    run_id: str = ""
    """The run converting it (a Step Functions execution's name): tasks of another run are refused."""
    planned_at: float = 0.0
    """When it was planned (epoch seconds): finish counts the conversion's time from here."""
    identity: str = ""
    """The identity the request came with (the function's idempotency key), so the run's end can
    answer for the request that started it."""
    picture: dict[str, Any] | None = None
    """How every clip job prepares pictures (``PictureSetup``), decided once from the first ones."""
    version: int = PLAN_VERSION

    @property
    def parallel(self) -> bool:
        return self.sequential_because is None and len(self.clips) > 1

    @property
    def config(self) -> PipelineConfig:
        """The settings the plan was made with: every clip job and finish use these, whatever
        their own environment says, so the clips of one recording never differ."""
        return PipelineConfig.from_dict(self.settings)

    def seek_point(self, clip: ClipSpan) -> SeekPoint:
        clip_ticks = Fraction(self.settings["clip_seconds"]) / self.facts.time_base
        window = (math.ceil(clip.index * clip_ticks), math.ceil((clip.index + 1) * clip_ticks))
        if clip.window is not None:
            window = (clip.window[0], clip.window[1])
        return SeekPoint(clip.seek_ts, clip.seek_frame, self.origin, self.audio_origin, window)

    def clip(self, index: int) -> ClipSpan:
        for span in self.clips:
            if span.index == index:
                return span
        raise KeyError(f"the plan has no clip {index}")

    def to_json(self) -> bytes:
        data = dataclasses.asdict(self)
        data["facts"] = {k: str(v) if isinstance(v, Fraction) else v for k, v in data["facts"].items()}
        return json.dumps(data, indent=1).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Plan:
        data = json.loads(raw)
        if data.get("version") != PLAN_VERSION:
            raise ValueError(f"plan version {data.get('version')} is not {PLAN_VERSION}")
        facts = data["facts"]
        for name in ("time_base", "fps", "sample_aspect_ratio", "header_rate"):
            facts[name] = Fraction(facts[name]) if facts[name] is not None else None
        return cls(
            source=SourceRef(**data["source"]),
            facts=VideoFacts(**facts),
            frames=data["frames"],
            duration_seconds=data["duration_seconds"],
            origin=data["origin"],
            audio_origin=data["audio_origin"],
            audio_rate=data["audio_rate"],
            settings=data["settings"],
            clips=[ClipSpan(**c) for c in data["clips"]],
            sequential_because=data["sequential_because"],
            warnings=data["warnings"],
            run_id=data["run_id"],
            planned_at=data["planned_at"],
            identity=data["identity"],
            picture=data.get("picture"),
        )

    @property
    def setup(self) -> PictureSetup | None:
        return PictureSetup.from_dict(self.picture) if self.picture is not None else None


def make_plan(src: MediaSource, source: SourceRef, cfg: PipelineConfig, name: str | None = None) -> Plan:
    """Plan ``src`` (a path, or a seekable file such as an S3 object read by ranges). Raises an
    ``InvalidInput`` subclass for a file that is no video at all, as the single pass would."""
    name = name or (src.name if isinstance(src, Path) else source.key)
    with media_errors(name), open_input(src, name) as container:
        video, audio, warnings = select_streams(container, name)
        facts = video_facts(container, video, audio, cfg)
        rate = audio.codec_context.sample_rate if audio is not None else None
        plan = Plan(source, facts, frames=0, duration_seconds=0.0, origin=0, audio_origin=None, audio_rate=rate,
                    settings=cfg.as_dict(), warnings=warnings)  # fmt: skip
        why = _not_cuttable(container, video, facts, source.size)
        if why is not None:
            return dataclasses.replace(plan, sequential_because=why)
        # A few bytes flagged key are no picture to start from (packed B-frames' N-VOP placeholders).
        entries = sorted((e.timestamp, e.is_keyframe and e.size >= MIN_KEYFRAME_BYTES)
                         for e in video.index_entries if e.size > 0)  # fmt: skip
        try:
            origin, audio_origin = _origins(container, video, audio is not None)
        except NotCuttable as exc:
            return dataclasses.replace(plan, sequential_because=str(exc))
        times = [ts - entries[0][0] for ts, _ in entries]  # decode times: presentation within a GOP
        ticks = frame_ticks(facts.time_base, facts.fps)
        duration = float((times[-1] + ticks) * facts.time_base)
        plan = dataclasses.replace(plan, frames=len(entries), duration_seconds=duration, origin=origin,
                                   audio_origin=audio_origin)  # fmt: skip
        if times[-1] < Fraction(cfg.split_after_seconds) / facts.time_base:
            return plan  # not long: one clip, the single pass
    setup = decide_setup(src, name, cfg)  # after the plan's container is closed: one file position
    if setup is None:
        return dataclasses.replace(plan, sequential_because="its first pictures do not decode")
    keys, stamps = [key for _, key in entries], [ts for ts, _ in entries]
    if setup.copy.copy:
        clips = _copied_spans(times, keys, stamps, facts, cfg)
    else:
        # Deinterlacing a picture looks at the one before it: each clip job decodes one more.
        clips = _spans(times, keys, stamps, facts, cfg, int(setup.interlace.deinterlace))
    if len(clips) > max(2, source.size / (MIN_BYTES_PER_SECOND * cfg.clip_seconds)):
        why = f"the index spreads {source.size} bytes over {len(clips)} clip jobs: it cannot be this file's"
        return dataclasses.replace(plan, sequential_because=why)
    return dataclasses.replace(plan, clips=clips, picture=setup.to_dict())


def _not_cuttable(container: InputContainer, video: VideoStream, facts: VideoFacts, size: int) -> str | None:
    if "avi" not in container.format.name.split(","):
        return f"only AVI is cut into clip jobs; this is {container.format.name}"
    if facts.retimed:
        return "the header's frame rate is implausible, so frames are re-timed as they decode"
    entries = [e for e in video.index_entries if e.size > 0]
    if len(entries) < 2:
        return "the file has no index (truncated or never finalized)"
    if max(e.pos + e.size for e in entries) > size:
        return "the index points past the end of the file (truncated)"
    stamps = [e.timestamp for e in entries]
    if any(b <= a for a, b in itertools.pairwise(stamps)):
        return "the index's timestamps are not increasing"
    # Chunks lie one after another in the file, in the index's order: an index that repeats or
    # overlaps them, or names more chunks than the bytes can hold, is not this file's.
    if any(b.pos < a.pos + a.size for a, b in itertools.pairwise(entries)):
        return "the index repeats or overlaps chunks: it cannot be this file's"
    if len(entries) * CHUNK_HEADER_BYTES > size:
        return f"the index names {len(entries)} chunks; {size} bytes cannot hold them"
    if not entries[0].is_keyframe:
        return "the index does not start at a keyframe"
    placeholders = sum(1 for e in entries if e.size <= PACKED_PLACEHOLDER_BYTES)
    if placeholders * 100 > len(entries):
        # Packed DivX/Xvid: a B-frame rides in the chunk before its placeholder, so after a seek the
        # decoder yields one frame fewer than one pass does there (measured): numbering would slip.
        return "it uses packed B-frames (DivX/Xvid), which cannot be cut frame-exactly"
    return None


def _origins(container: InputContainer, video: VideoStream, with_audio: bool) -> tuple[int, int | None]:
    """The first frame's presentation time (the smallest of the first packets': B-frames come
    after the picture they precede) and the first audio timestamp, from the file's first packets.
    Raises NotCuttable when the audio does not start near the video (clip audio could not be placed)."""
    container.seek(0)
    video_times: list[int] = []
    audio_origin: int | None = None
    for count, packet in enumerate(container.demux()):
        ts = packet.pts if packet.pts is not None else packet.dts
        if count >= MAX_START_PACKETS:
            break
        if ts is None or packet.size == 0:
            continue
        if packet.stream.index == video.index:
            video_times.append(ts)
        elif packet.stream.type == "audio" and audio_origin is None and with_audio:
            audio_origin = ts
        if len(video_times) >= ORIGIN_PACKETS and (audio_origin is not None or not with_audio):
            break
    if with_audio and audio_origin is None:
        raise NotCuttable(f"no audio in the first {MAX_START_PACKETS} packets: clip audio could not be placed")
    return (min(video_times) if video_times else 0), audio_origin


def _spans(times: list[int], keys: list[bool], stamps: list[int], facts: VideoFacts, cfg: PipelineConfig,
           extra_history: int = 0) -> list[ClipSpan]:  # fmt: skip
    clip_ticks = Fraction(cfg.clip_seconds) / facts.time_base
    # Decode times stand in for presentation times only where frames are not reordered.
    intra_only = all(keys)
    history = make_judge(cfg).history_frames + extra_history + (0 if intra_only else SEEK_MARGIN_FRAMES)
    ranges: dict[int, list[int]] = {}
    for frame, ts in enumerate(times):
        clip = math.floor(ts / clip_ticks)
        ranges.setdefault(clip, [frame, frame])[1] = frame
    keyframes = [i for i, key in enumerate(keys) if key]  # keys[0] is one (_not_cuttable)
    spans = []
    for clip, (first, last) in sorted(ranges.items()):
        judge_from = max(0, first - history)
        seek = keyframes[bisect.bisect_right(keyframes, judge_from) - 1]  # the keyframe at or before
        spans.append(ClipSpan(clip, first, last, stamps[seek], seek, judge_from))
    return spans


def _copied_spans(times: list[int], keys: list[bool], stamps: list[int], facts: VideoFacts,
                  cfg: PipelineConfig) -> list[ClipSpan]:  # fmt: skip
    """The clips of a copied stream, cut as ``ClipWriter`` cuts one: the first at frame 0, each next
    at the first keyframe at or after a clip length past the start of the one before. An IDR's
    decode time is its presentation time (it shows after everything decoded before it), so the
    index's times stand in exactly; a keyframe the index flags that is no IDR is found by its clip
    job (NotCuttable: one pass)."""
    clip_ticks = Fraction(cfg.clip_seconds) / facts.time_base
    starts = [0]
    for frame, (ts, key) in enumerate(zip(times, keys, strict=True)):
        if key and frame > 0 and ts >= times[starts[-1]] + clip_ticks:
            starts.append(frame)
    history = make_judge(cfg).history_frames + (0 if all(keys) else SEEK_MARGIN_FRAMES)
    keyframes = [i for i, key in enumerate(keys) if key]
    ends = [*starts[1:], len(times)]
    step = frame_ticks(facts.time_base, facts.fps)
    spans = []
    for clip, (first, end) in enumerate(zip(starts, ends, strict=True)):
        judge_from = max(0, first - history)
        seek = keyframes[bisect.bisect_right(keyframes, judge_from) - 1]
        window = [times[first], times[end] if end < len(times) else times[-1] + step]
        spans.append(ClipSpan(clip, first, end - 1, stamps[seek], seek, judge_from, window))
    return spans
