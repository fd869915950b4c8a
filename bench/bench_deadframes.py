"""Dead-frame detector: accuracy on generated ground truth, against FFmpeg's own detectors, and
cost per frame at three resolutions.

    python bench/bench_deadframes.py

Accuracy: labelled MJPEG (q 2, 5, 10) and MPEG-4 (q 2, 4, 8, 12) clips (devtools/deadframe_truth.py),
scored on the sampled frames at steps 10, 7 and 3. Precision and recall are dead-vs-alive; per
label, a dead label's figure is its recall and an alive label's the share of its frames wrongly
called dead. The anchor is FFmpeg's blackdetect + freezedetect at per-frame settings, run by the
ffmpeg binary over the same files and scored on the same frames.
Thinning: a 5-minute corridor crossed every 50 s, converted with and without --min-change.
Cost: thumbnail + all judgements per decoded frame, median of 5 passes over 200 frames.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from av.video.frame import VideoFrame

from avi2mp4.conversion.one_pass import run_job
from avi2mp4.labeling.detector import DeadFrameDetector
from avi2mp4.settings import PipelineConfig
from avi2mp4.storage.local import LocalStore
from avi2mp4.storage.port import SourceRef
from devtools.deadframe_eval import FFMPEG_PER_FRAME, Score, ffmpeg_anchor, score_detector
from devtools.deadframe_truth import ALIVE_LABELS, DEAD_LABELS, QUALITIES, write_truth_clip
from devtools.synth import write_corridor

STEPS = (10, 7, 3)


def row(name: str, s: Score) -> str:
    labels = " ".join(f"{lab}={s.label_rate(lab):.2f}" for lab in (*DEAD_LABELS, *ALIVE_LABELS)
                      if s.frames_by_label[lab] and (lab in DEAD_LABELS or s.calls_by_label[lab]))  # fmt: skip
    return f"  {name:<22} P={s.precision:.3f} R={s.recall:.3f}  {labels}"


def accuracy(work: Path) -> None:
    """Every truth clip (codecs x quantizers), scored at frame steps 10, 7 and 3, beside FFmpeg's
    blackdetect + freezedetect at per-frame settings on the same sampled frames. Per label: a dead
    label's recall; an alive label only where something called it dead (the share)."""
    totals: dict[str, Score] = {}
    for codec, qualities in QUALITIES.items():
        for quality in qualities:
            clip = write_truth_clip(work, codec, quality=quality)
            dead = sum(lab in DEAD_LABELS for lab in clip.labels)
            print(f"{codec} q{quality} 320x240: {len(clip.labels)} frames, {dead} dead")
            for step in STEPS:
                for name, score in ((f"avi2mp4, step {step}", score_detector(clip, step)[0]),
                                    (f"ffmpeg, step {step}", ffmpeg_anchor(clip, FFMPEG_PER_FRAME, step))):  # fmt: skip
                    print(row(name, score))
                    key = f"{name} ({codec})"
                    totals[key] = totals[key].merge(score) if key in totals else score
    print("all clips:")
    for name, score in sorted(totals.items()):
        print(row(name, score))


def cost() -> None:
    rng = np.random.default_rng(1)
    print("cost per decoded frame (thumbnail + black + blank + repeat checks), median of 5 x 200 frames:")
    for width, height in ((320, 240), (1280, 720), (1920, 1080)):
        frames = []
        for _ in range(20):
            rgb = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
            frames.append(VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuvj420p"))
        runs = []
        for _ in range(5):
            detector = DeadFrameDetector(lambda i: i % 10 == 0, min_run=10)
            started = time.perf_counter()
            for i in range(200):
                detector.observe(i, frames[i % 20], False)
            runs.append((time.perf_counter() - started) / 200 * 1000)
        print(f"  {width}x{height}: {statistics.median(runs):.3f} ms/frame")


def thinning(work: Path, minutes: float = 5.0, min_change: float = 0.004) -> None:
    """--min-change on an unchanging corridor that someone crosses now and then."""
    fps = 25
    frames = int(minutes * 60 * fps)
    crossings = [range(start, start + 2 * fps) for start in range(30 * fps, frames, 50 * fps)]
    src = write_corridor(work / "corridor.avi", frames, crossings, fps=fps)
    source = SourceRef(src.name, src.stat().st_size)
    every = run_job(src, source, LocalStore(work / "every"), PipelineConfig())
    thin = run_job(src, source, LocalStore(work / "thin"), PipelineConfig(min_change=min_change))
    kept = {f.index for f in thin.result.jpegs}
    motion = {i for r in crossings for i in r if i % 10 == 0}
    print(f"thinning: {minutes:.0f} min corridor at {fps} fps with {len(crossings)} crossings of 2 s: "
          f"{len(every.images)} JPEGs without --min-change, {len(thin.images)} with --min-change "
          f"{min_change} ({1 - len(thin.images) / len(every.images):.0%} fewer); sampled frames with motion "
          f"kept: {len(motion & kept)} of {len(motion)}")  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="avi2mp4-deadbench-") as tmp:
        accuracy(Path(tmp))
        thinning(Path(tmp))
    cost()


if __name__ == "__main__":
    main()
