"""Dead-frame detector: accuracy on generated ground truth, against FFmpeg's own detectors, and
cost per frame at three resolutions.

    python bench/bench_deadframes.py

Accuracy: labelled MJPEG and MPEG-4 clips (devtools/deadframe_truth.py), scored per frame (every
frame decided) and per sampled frame (every 10th, as the pipeline does). Precision and recall are
dead-vs-alive; per label, a dead label's figure is its recall and an alive label's is the share of
its frames wrongly called dead. The anchor is FFmpeg's blackdetect + freezedetect at defaults and
at per-frame settings, run by the ffmpeg binary over the same files.
Cost: thumbnail + all judgements per decoded frame, median of 5 passes over 200 frames.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from av.video.frame import VideoFrame

from avi2mp4.labeling.detector import DeadFrameDetector
from devtools.deadframe_eval import FFMPEG_DEFAULTS, FFMPEG_PER_FRAME, Score, ffmpeg_anchor, score_detector
from devtools.deadframe_truth import ALIVE_LABELS, DEAD_LABELS, write_truth_clip


def row(name: str, s: Score) -> str:
    labels = " ".join(f"{lab}={s.label_rate(lab):.2f}" for lab in (*DEAD_LABELS, *ALIVE_LABELS)
                      if s.frames_by_label[lab])  # fmt: skip
    return f"  {name:<34} P={s.precision:.3f} R={s.recall:.3f}  {labels}"


def accuracy(work: Path) -> None:
    totals: dict[str, Score] = {}
    for codec, size in (("mjpeg", (320, 240)), ("mpeg4", (320, 240)), ("mjpeg", (1280, 720)), ("mpeg4", (1280, 720))):
        clip = write_truth_clip(work, codec, size=size)
        print(f"{codec} {size[0]}x{size[1]}: {len(clip.labels)} frames, "
              f"{sum(lab in DEAD_LABELS for lab in clip.labels)} dead")  # fmt: skip
        results = {
            "avi2mp4, every frame": score_detector(clip, 1)[0],
            "avi2mp4, sampled frames (1 in 10)": score_detector(clip, 10)[0],
            "ffmpeg defaults": ffmpeg_anchor(clip, FFMPEG_DEFAULTS),
            "ffmpeg per-frame settings": ffmpeg_anchor(clip, FFMPEG_PER_FRAME),
        }
        for name, score in results.items():
            print(row(name, score))
            totals[name] = totals[name].merge(score) if name in totals else score
    print("all clips:")
    for name, score in totals.items():
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


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="avi2mp4-deadbench-") as tmp:
        accuracy(Path(tmp))
    cost()


if __name__ == "__main__":
    main()
