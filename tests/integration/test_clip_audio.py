"""Audio in split clips: every clip's audio starts with its video and lasts as long, within one AAC
frame, and no audio is lost at a boundary (a one-frame last clip included). Audio that runs past
the picture is trimmed to it, so players and the manifest agree on the duration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avi2mp4.errors import NoDecodableFrames
from avi2mp4.media.clip_audio import AudioRouter
from avi2mp4.media.probe import AAC_SAMPLE_RATES, aac_rate
from avi2mp4.settings import PipelineConfig
from avi2mp4.storage.local import LocalStore
from avi2mp4.storage.port import SourceRef
from devtools.fuzz import find_all
from devtools.readback import (
    audio_samples,
    container_duration,
    lavfi_audio,
    lavfi_video,
    make,
    read_back,
    stream_starts,
)
from tests.local_job import convert_with_jobs, run_local_job

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


@pytest.mark.parametrize("rate", [11_024, 11_000, 22_000, 32_001, 44_000])
def test_audio_at_a_rate_aac_lacks_is_resampled_not_a_rejection(tmp_path: Path, rate: int) -> None:
    """Real cameras write 11024 Hz: the video converts, its audio resampled to the nearest AAC rate,
    each clip's audio as long as its picture; the manifest says so."""
    src = make(tmp_path / "cam.avi", *lavfi_video(3.0), *lavfi_audio(3.0, rate), "-c:v", "mjpeg",
               "-c:a", "pcm_s16le")  # fmt: skip

    job = run_local_job(src, tmp_path / "out", CFG)

    aac = aac_rate(rate)
    assert aac != rate and abs(aac - rate) / rate < 0.01
    assert job.result.warnings == [f"audio resampled from {rate} Hz to {aac} Hz, the nearest rate AAC carries"]
    manifest = json.loads(Path(job.manifest_object.location).read_text())
    assert len(manifest["clips"]) == 3
    for clip in manifest["clips"]:
        path = Path(clip["location"])
        assert f"{aac} Hz" in str(read_back(path).audio_line())
        assert abs(audio_samples(path, aac) - clip["duration_seconds"] * aac) <= AAC_FRAME, path.name


def test_clip_jobs_resample_as_one_pass_does(tmp_path: Path) -> None:
    src = make(tmp_path / "cam.avi", *lavfi_video(5.2), *lavfi_audio(5.2, 11_024), "-c:v", "mjpeg",
               "-c:a", "pcm_s16le")  # fmt: skip
    cfg = PipelineConfig(clip_seconds=1.0, split_after_seconds=2.0, frame_step=3)

    single = run_local_job(src, tmp_path / "single", cfg)
    parallel = convert_with_jobs(src, SourceRef(src.name, src.stat().st_size), LocalStore(tmp_path / "jobs"), cfg, 2)

    assert parallel.manifest.conversion["path"] == "parallel"
    for a, b in zip(single.clips, parallel.clips, strict=True):
        assert audio_samples(Path(b.location), 11_025) == audio_samples(Path(a.location), 11_025)


def test_audio_with_no_decodable_picture_is_no_decodable_frames(tmp_path: Path) -> None:
    """Not an AAC error: the audio (at a rate AAC lacks, even) never gets that far."""
    src = make(tmp_path / "blind.avi", *lavfi_video(1.0), *lavfi_audio(1.0, 11_024), "-c:v", "mjpeg",
               "-c:a", "pcm_s16le")  # fmt: skip
    data = bytearray(src.read_bytes())
    for at in find_all(data, b"00dc"):
        size = int.from_bytes(data[at + 4 : at + 8], "little")
        if 16 < size < len(data):
            data[at + 8 : at + 8 + size] = b"\x00" * size  # no JPEG left in any video chunk
    src.write_bytes(bytes(data))

    with pytest.raises(NoDecodableFrames):
        run_local_job(src, tmp_path / "out", CFG)


def test_the_aac_rates_are_the_encoders() -> None:
    import av

    assert sorted(AAC_SAMPLE_RATES) == sorted(av.Codec("aac", "w").audio_rates or [])
