"""Every AVI variant of pitfalls.md converts with the right frame count and duration; bad files
are rejected with a typed error and leave nothing behind."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from avi2mp4 import errors
from avi2mp4.settings import PipelineConfig
from devtools.readback import count_source_frames, lavfi_video, make, read_back, run_ffmpeg
from tests.avi_traps import REJECTS, TRAPS
from tests.local_job import run_local_job


@pytest.mark.parametrize("name", sorted(TRAPS))
def test_trap_converts_to_browser_ready_mp4(name: str, tmp_path: Path) -> None:
    trap = TRAPS[name](tmp_path)
    expected_frames = count_source_frames(trap.path)
    assert expected_frames > 0

    job = run_local_job(trap.path, tmp_path / "out", PipelineConfig(dead_frame_filter=False))

    result = job.result
    assert result.frames_decoded == expected_frames
    assert result.decode_errors >= trap.min_decode_errors
    (clip,) = job.clips
    mp4 = Path(clip.location)
    back = read_back(mp4)
    assert back.errors == "", back.errors
    assert back.count == expected_frames
    video = back.video_line()
    assert "h264" in video and "yuv420p(tv" in video, video
    width, height = back.size
    assert width % 2 == 0 and height % 2 == 0
    assert (width, height) == (result.facts.width - result.facts.width % 2,
                               result.facts.height - result.facts.height % 2)  # fmt: skip
    slots = expected_frames + trap.gap_frames
    assert back.duration == pytest.approx(slots / trap.fps, abs=1.5 / trap.fps)
    assert result.duration_seconds == pytest.approx(slots / trap.fps, abs=1.5 / trap.fps)
    if trap.sar:
        assert f"SAR {trap.sar}" in video
    audio = back.audio_line()
    assert (audio is not None and "aac" in audio) if trap.has_audio else audio is None
    data = mp4.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat"), "faststart: moov must precede mdat"
    assert len(job.images) == math.ceil(expected_frames / 10)


@pytest.mark.parametrize("name", sorted(REJECTS))
def test_bad_input_is_rejected_with_typed_error(name: str, tmp_path: Path) -> None:
    build, error_name = REJECTS[name]
    src = build(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(errors.InvalidInput) as info:
        run_local_job(src, out)
    assert type(info.value).__name__ == error_name
    assert src.name in str(info.value) or "frame" in str(info.value)
    assert not [p for p in out.rglob("*") if p.is_file()], "a rejected file must leave no output"
    assert src.exists(), "the source is never touched"


def test_xvid_trap_really_has_packed_b_frames(tmp_path: Path) -> None:
    trap = TRAPS["xvid_packed_bframes"](tmp_path)
    assert "packed B-frames" in run_ffmpeg("-i", str(trap.path), "-f", "null", "-").stderr


def test_errors_the_decoder_only_logs_are_counted(tmp_path: Path) -> None:
    """Damaged MPEG-4 slices: every frame still comes out (no exception), FFmpeg only logs
    "ac-tex damaged" / "cbpy damaged"; the manifest must not say 0 errors."""
    src = make(tmp_path / "clean.avi", *lavfi_video(2.0), "-c:v", "mpeg4", "-g", "50")
    data = bytearray(src.read_bytes())
    rng = random.Random(1)
    movi = data.find(b"movi")
    for _ in range(300):
        data[rng.randrange(movi + 2000, len(data) - 2000)] = rng.randrange(256)
    damaged = tmp_path / "damaged.avi"
    damaged.write_bytes(bytes(data))

    job = run_local_job(damaged, tmp_path / "out")

    assert job.result.frames_decoded >= 45
    assert job.result.decode_errors >= 10
    assert any(m.startswith("mpeg4: ") and "damaged" in m for m in job.result.error_messages)
    assert job.manifest.decode_errors["count"] == job.result.decode_errors


def test_h264_with_a_field_rate_header_reports_the_frame_rate(tmp_path: Path) -> None:
    """The header says 60 (fields); the frames come every second tick: 30 fps, as players show."""
    src = make(tmp_path / "fields.avi", *lavfi_video(2.0, rate=60), "-vf", "select='not(mod(n\\,2))'",
               "-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "veryfast")  # fmt: skip

    job = run_local_job(src, tmp_path / "out")

    assert job.manifest.source["header_fps"] == 60
    assert job.manifest.source["fps"] == 30
    assert job.result.frames_decoded == 60
    assert job.result.duration_seconds == pytest.approx(2.0, abs=1 / 30)  # the last pts is guessed
    assert read_back(Path(job.clips[0].location)).duration == pytest.approx(2.0, abs=0.04)


def test_one_duration_for_a_capture_that_dropped_most_frames(tmp_path: Path) -> None:
    """A 30 fps header, a picture every 10th tick (the rest zero-byte chunks), no index: the summary,
    the manifest, the clip and the MP4 all give the same duration (they gave 30.40 s and 30.07 s)."""
    full = make(tmp_path / "full.avi", *lavfi_video(6.0, rate=30), "-vf", "select='not(mod(n\\,10))'",
                "-fps_mode", "passthrough", "-c:v", "cinepak")  # fmt: skip
    src = tmp_path / "slow.avi"
    src.write_bytes(full.read_bytes()[: full.read_bytes().rfind(b"idx1")])  # never finalized: no index

    job = run_local_job(src, tmp_path / "out")

    (clip,) = job.manifest.clips
    mp4 = read_back(Path(clip["location"]))
    assert job.manifest.source["fps"] == 3, "as played: a picture every 10th tick"
    assert job.manifest.source["duration_seconds"] == clip["duration_seconds"] == round(job.result.duration_seconds, 6)
    assert mp4.duration == pytest.approx(clip["duration_seconds"], abs=0.002)
