"""Dead frames against ground truth, and through the whole pipeline (manifest, CLI summary)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.deadframe_eval import FFMPEG_PER_FRAME, ffmpeg_anchor, score_detector
from devtools.deadframe_truth import DEAD_LABELS, HARD_NEGATIVES, TruthClip, write_truth_clip
from tests.local_job import run_local_job


@pytest.fixture(scope="module", params=["mjpeg", "mpeg4"])
def truth(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> TruthClip:
    return write_truth_clip(tmp_path_factory.mktemp("truth"), request.param)


@pytest.mark.parametrize("step", [1, 10], ids=["all-frames", "sampled-frames"])
def test_detector_meets_targets_on_ground_truth(truth: TruthClip, step: int) -> None:
    score, _ = score_detector(truth, step)
    assert score.precision >= 0.99, score
    assert score.recall >= 0.95, score
    for label in HARD_NEGATIVES:
        assert score.calls_by_label[label] == 0, f"dead calls on hard negative {label}"
    for label in DEAD_LABELS:
        if score.frames_by_label[label]:
            assert score.label_rate(label) >= 0.9, f"recall on {label}: {score.label_rate(label):.2f}"


def test_detector_beats_ffmpeg_anchor(truth: TruthClip) -> None:
    ours, _ = score_detector(truth, 1)
    anchor = ffmpeg_anchor(truth, FFMPEG_PER_FRAME)
    assert anchor.label_rate("blank") < 0.5, "FFmpeg's detectors miss flat non-black frames"
    assert ours.recall > anchor.recall


def test_pipeline_drops_dead_frames_and_says_why(tmp_path: Path) -> None:
    clip = write_truth_clip(tmp_path, "mpeg4")

    job = run_local_job(clip.path, tmp_path / "out")

    manifest = json.loads(Path(job.manifest_object.location).read_text())
    dropped = {d["frame_index"]: d["reason"] for d in manifest["dead_frames"]}
    kept = {f["frame_index"] for f in manifest["frames"]}
    decoded = manifest["source"]["frames_decoded"]
    assert set(dropped) | kept == set(range(0, decoded, 10)), "every sampled frame is kept or dropped"
    assert not set(dropped) & kept
    assert {"black", "blank", "frozen", "damaged"} <= set(dropped.values())
    for index in kept:
        assert clip.labels[index] not in DEAD_LABELS, f"frame {index} ({clip.labels[index]}) was kept"
    assert len(job.images) == len(kept)
    assert manifest["settings"]["dead_thresholds"]["black_share"] == 0.98
    assert sum(c["frames"] for c in manifest["clips"]) == decoded, "the MP4 keeps every frame"


def test_cli_counts_dead_frames_by_reason_and_can_keep_them(tmp_path: Path) -> None:
    clip = write_truth_clip(tmp_path, "mjpeg")
    cmd = [sys.executable, "-m", "avi2mp4", "convert", str(clip.path), "--json"]

    filtered = json.loads(subprocess.run([*cmd, "--out", str(tmp_path / "a")], capture_output=True,
                                         text=True, check=True).stdout)  # fmt: skip
    everything = json.loads(subprocess.run([*cmd, "--out", str(tmp_path / "b"), "--no-dead-filter"],
                                           capture_output=True, text=True, check=True).stdout)  # fmt: skip

    assert filtered["dead"] == {"black": 2, "blank": 3, "frozen": 3}
    assert everything["dead"] == {}
    assert everything["jpegs"] == filtered["jpegs"] + 8
