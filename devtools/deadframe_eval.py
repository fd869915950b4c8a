"""Scoring the dead-frame detector (and FFmpeg's blackdetect/freezedetect anchor) on truth clips."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import av
from av.video.frame import VideoFrame

from avi2mp4.labeling.detector import DeadFrameDetector
from avi2mp4.media.decode import DamageTracker
from avi2mp4.settings import DeadFrameThresholds
from devtools.deadframe_truth import DEAD_LABELS, FPS, TruthClip
from devtools.readback import run_ffmpeg


@dataclass
class Score:
    """Dead-vs-alive scores; per-label recall of dead labels; dead calls on each alive label."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    calls_by_label: Counter[str] = field(default_factory=Counter)
    frames_by_label: Counter[str] = field(default_factory=Counter)

    def add(self, label: str, dead: bool) -> None:
        truth = label in DEAD_LABELS
        self.frames_by_label[label] += 1
        self.calls_by_label[label] += dead
        self.tp += truth and dead
        self.fp += dead and not truth
        self.fn += truth and not dead

    def merge(self, other: Score) -> Score:
        return Score(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn,
                     self.calls_by_label + other.calls_by_label,
                     self.frames_by_label + other.frames_by_label)  # fmt: skip

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def label_rate(self, label: str) -> float:
        """Share of ``label`` frames called dead (recall for a dead label, error rate for an alive one)."""
        total = self.frames_by_label[label]
        return self.calls_by_label[label] / total if total else 0.0


def detector_verdicts(clip: TruthClip, step: int, limits: DeadFrameThresholds | None = None) -> dict[int, str | None]:
    """Source frame number -> reason (None: alive) for every frame the detector decided.

    ``step`` 1 decides every frame (per-frame scores); 10 decides the sampled ones, as the pipeline
    does. Frozen runs need ``10`` repeats in both cases. Decoding mirrors the pipeline: per packet,
    a failed packet marks what follows as damaged.
    """
    detector = DeadFrameDetector(lambda i: i % step == 0, min_run=10, limits=limits or DeadFrameThresholds())
    damage = DamageTracker()
    by_index: dict[int, str | None] = {}
    pts_of: dict[int, int] = {}
    index = 0
    with av.open(str(clip.path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.FFmpegError:
                damage.packet_failed()
                continue
            for frame in frames:
                assert isinstance(frame, VideoFrame) and frame.pts is not None
                pts_of[index] = frame.pts
                for v in detector.observe(index, frame, damage.is_damaged(frame)):
                    by_index[v.index] = v.reason
                index += 1
    for v in detector.finish():
        by_index[v.index] = v.reason
    return {pts_of[i]: reason for i, reason in by_index.items()}


def score_detector(clip: TruthClip, step: int) -> tuple[Score, Counter[str]]:
    verdicts = detector_verdicts(clip, step)
    score = Score()
    for frame_no, reason in verdicts.items():
        score.add(clip.labels[frame_no], reason is not None)
    # Frames the decoder never produced (their packet failed) are dead frames nobody sampled.
    return score, Counter(r for r in verdicts.values() if r)


_INTERVAL = re.compile(r"(black_start|black_end|freeze_start|freeze_end):\s*([-\d.]+)")


def ffmpeg_anchor(clip: TruthClip, filters: str, step: int = 1) -> Score:
    """Scores of FFmpeg's own detectors on every ``step``-th frame: frames inside a reported
    interval are dead."""
    proc = run_ffmpeg("-i", str(clip.path), "-map", "0:v:0", "-vf", filters, "-f", "null", "-")
    intervals: list[tuple[float, float]] = []
    start: dict[str, float] = {}
    for kind, value in _INTERVAL.findall(proc.stderr):
        family, edge = kind.split("_")
        if edge == "start":
            start[family] = float(value)
        elif family in start:
            intervals.append((start.pop(family), float(value)))
    end_of_clip = len(clip.labels) / FPS
    intervals += [(t, end_of_clip + 1) for t in start.values()]  # still open at the end
    score = Score()
    for frame_no, label in enumerate(clip.labels):
        if frame_no % step:
            continue
        t = frame_no / FPS
        score.add(label, any(lo <= t + 1e-6 < hi for lo, hi in intervals))
    return score


FFMPEG_DEFAULTS = "blackdetect,freezedetect"
FFMPEG_PER_FRAME = "blackdetect=d=0,freezedetect=n=0.001:d=0.4"
