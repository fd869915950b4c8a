"""Audio in split clips: every clip's audio starts with its video and lasts as long, within one AAC
frame, and no audio is lost at a boundary (a one-frame last clip included). Audio that runs past
the picture is trimmed to it, so players and the manifest agree on the duration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avi2mp4.media.clip_audio import AudioRouter
from avi2mp4.settings import PipelineConfig
from devtools.readback import audio_samples, container_duration, lavfi_audio, lavfi_video, make, stream_starts
from tests.local_job import run_local_job

CFG = PipelineConfig(clip_seconds=1.0, split_after_seconds=2.0, dead_frame_filter=False)
AAC_FRAME = 1024


@pytest.mark.parametrize(("seconds", "codec", "rate"), [(3.2, "pcm_s16le", 44_100), (2.04, "adpcm_ms", 22_050)])
def test_each_clip_has_all_of_its_audio(tmp_path: Path, seconds: float, codec: str, rate: int) -> None:
    src = make(tmp_path / "talk.avi", *lavfi_video(seconds), *lavfi_audio(seconds, rate), "-c:v", "mjpeg",
               "-c:a", codec)  # fmt: skip

    job = run_local_job(src, tmp_path / "out", CFG)

    manifest = json.loads(Path(job.manifest_object.location).read_text())
    total = 0
    for clip in manifest["clips"]:
        path = Path(clip["location"])
        samples = audio_samples(path, rate)
        expected = clip["duration_seconds"] * rate
        assert abs(samples - expected) <= AAC_FRAME, (path.name, samples, expected)
        starts = stream_starts(path)
        assert abs(starts["a"] - starts["v"]) <= AAC_FRAME / rate, (path.name, starts)
        total += samples
    assert abs(total - seconds * rate) <= AAC_FRAME, "audio lost or doubled at the boundaries"


def test_audio_longer_than_the_picture_is_trimmed_to_it(tmp_path: Path) -> None:
    src = make(tmp_path / "long_audio.avi", *lavfi_video(2.0), *lavfi_audio(3.0), "-c:v", "mjpeg",
               "-c:a", "pcm_s16le")  # fmt: skip

    job = run_local_job(src, tmp_path / "out", PipelineConfig(dead_frame_filter=False))

    (clip,) = job.clips
    path = Path(clip.location)
    assert abs(audio_samples(path, 44_100) - 2.0 * 44_100) <= AAC_FRAME
    assert container_duration(path) == pytest.approx(job.result.duration_seconds, abs=AAC_FRAME / 44_100)


@pytest.mark.parametrize("kept_bytes", [AudioRouter.WHOLE_BUFFER_BYTES, 0])
def test_a_short_video_joined_from_segments_keeps_seamless_audio(tmp_path: Path, kept_bytes: int,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """2 s == split_after: encoded as two 1 s segments, then joined; its audio is the whole
    video's, encoded in one piece (no priming gap at the seam). Its first segment's samples are
    kept raw until the second opens, or (``kept_bytes`` 0: past the bound) encoded at once."""
    monkeypatch.setattr(AudioRouter, "WHOLE_BUFFER_BYTES", kept_bytes)
    src = make(tmp_path / "edge.avi", *lavfi_video(2.0), *lavfi_audio(2.0, 48_000), "-c:v", "mjpeg",
               "-c:a", "pcm_s16le")  # fmt: skip

    job = run_local_job(src, tmp_path / "out", CFG)

    (clip,) = job.clips
    path = Path(clip.location)
    assert abs(audio_samples(path, 48_000) - 2.0 * 48_000) <= AAC_FRAME
    starts = stream_starts(path)
    assert abs(starts["a"] - starts["v"]) <= AAC_FRAME / 48_000
    assert container_duration(path) == pytest.approx(2.0, abs=AAC_FRAME / 48_000)
