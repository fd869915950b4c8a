"""Splitting: frame-exact clips that each start on a keyframe and play on their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avi2mp4.settings import PipelineConfig
from devtools.readback import gray_means, lavfi_audio, lavfi_video, make, read_back
from devtools.synth import identity_levels, write_gray_levels
from tests.local_job import run_local_job

# Scaled-down settings: the logic is the same at 120/240 s, the test just runs in seconds.
CFG = PipelineConfig(clip_seconds=1.0, split_after_seconds=2.0, dead_frame_filter=False)


def test_long_video_becomes_frame_exact_clips(tmp_path: Path) -> None:
    levels = identity_levels(132)  # 5.28 s at 25 fps: clips of 25, 25, 25, 25, 25, 7 frames
    src = write_gray_levels(tmp_path / "levels.avi", levels)

    job = run_local_job(src, tmp_path / "out", CFG, key="cams/site 1/levels.avi")

    names = [Path(c.key).name for c in job.clips]
    assert names == [f"levels_part{i:03d}.mp4" for i in range(6)]
    assert all(c.key.startswith("cams/site 1/") for c in job.clips)
    seen: list[float] = []
    for clip in job.clips:
        back = read_back(Path(clip.location))
        assert back.errors == ""
        assert back.frames[0].key and back.frames[0].pict_type == "I"
        assert back.frames[0].pts_time == pytest.approx(0.0, abs=1e-3), "each clip starts at 0"
        seen += gray_means(Path(clip.location), 64, 48)
    # Concatenated, the clips hold every source frame exactly once, in order.
    assert len(seen) == len(levels)
    assert all(abs(got - want) < 8 for got, want in zip(seen, levels, strict=True)), (seen, levels)

    manifest = json.loads(Path(job.manifest_object.location).read_text())
    ranges = [(c["first_frame"], c["last_frame"]) for c in manifest["clips"]]
    assert ranges == [(0, 24), (25, 49), (50, 74), (75, 99), (100, 124), (125, 131)]
    assert [c["start_seconds"] for c in manifest["clips"]] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_video_at_the_threshold_stays_one_file_with_audio(tmp_path: Path) -> None:
    # 2.0 s == split_after: not longer, so one file, though it was encoded as two segments.
    src = make(tmp_path / "edge.avi", *lavfi_video(2.0), *lavfi_audio(2.0), "-c:v", "mjpeg", "-c:a", "pcm_s16le")

    job = run_local_job(src, tmp_path / "out", CFG)

    (clip,) = job.clips
    assert Path(clip.key).name == "edge.mp4"
    back = read_back(Path(clip.location))
    assert back.errors == ""
    assert back.count == 50
    times = [f.pts_time for f in back.frames]
    assert times == sorted(times) and times[25] == pytest.approx(1.0, abs=1e-3)
    assert "aac" in (back.audio_line() or "")
    assert not list((tmp_path / "out" / "video-mp4").glob("*_part*.mp4"))


def test_clips_carry_audio(tmp_path: Path) -> None:
    src = make(tmp_path / "talk.avi", *lavfi_video(3.2), *lavfi_audio(3.2), "-c:v", "mjpeg", "-c:a", "pcm_s16le")

    job = run_local_job(src, tmp_path / "out", CFG)

    assert len(job.clips) == 4
    for clip in job.clips:
        back = read_back(Path(clip.location))
        assert "aac" in (back.audio_line() or ""), clip.key
        assert back.errors == ""
