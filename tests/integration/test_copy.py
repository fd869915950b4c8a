"""H.264 that browsers play is copied, not encoded: every frame the independent decoder reads from
the clips is bit-identical to its decode of the source (framemd5), once and in order; clips start
on IDR pictures; clip jobs copy the same clips. What cannot be copied is encoded, and the manifest
says why; a copy that turns out impossible mid-way falls back to encoding, saying so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from avi2mp4.conversion.one_pass import JobResult
from avi2mp4.errors import ConfigError
from avi2mp4.settings import PipelineConfig, read_env
from avi2mp4.storage.local import LocalStore
from avi2mp4.storage.port import SourceRef
from devtools.readback import ffmpeg, lavfi_audio, lavfi_video, make
from tests.local_job import convert_with_jobs, run_local_job

# Scaled down: 1 s clips, split after 2 s. The logic is that of 120/240.
CFG = PipelineConfig(clip_seconds=1.0, split_after_seconds=2.0, frame_step=3)
SECONDS = 5.2
GOP = 20  # an IDR every 0.8 s at 25 fps: clips start at frames 0, 40, 80, 120 (the first IDR >= 1 s on)
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-bf", "3", "-g", str(GOP), "-sc_threshold", "0"]


def framemd5(path: Path) -> list[str]:
    """The independent decoder's checksum of every video frame, in order."""
    out = subprocess.run([ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if line and not line.startswith("#")]


def _manifest(job: JobResult) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(job.manifest_object.location).read_text())
    return data


def _clip_md5s(job: JobResult) -> list[str]:
    return [md5 for clip in job.clips for md5 in framemd5(Path(clip.location))]


def _stream_line(path: Path) -> str:
    proc = subprocess.run([ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True, check=False)
    return next(line for line in proc.stderr.splitlines() if "Video:" in line)


def test_browser_h264_is_copied_frame_for_frame_and_cut_at_idr_pictures(tmp_path: Path) -> None:
    src = make(tmp_path / "cam.avi", *lavfi_video(SECONDS), *lavfi_audio(SECONDS), *X264, "-c:a", "pcm_s16le")

    job = run_local_job(src, tmp_path / "out", CFG)

    manifest = _manifest(job)
    assert manifest["picture"]["video"] == "copied", manifest["picture"]
    assert manifest["picture"]["copy"] == "H.264 that browsers play"
    assert _clip_md5s(job) == framemd5(src)  # every decoded frame bit-identical, once, in order
    clips = manifest["clips"]
    assert [(c["first_frame"], c["last_frame"]) for c in clips] == [(0, 39), (40, 79), (80, 119), (120, 129)]
    assert [c["duration_seconds"] for c in clips] == pytest.approx([1.6, 1.6, 1.6, 0.4])
    for clip, entry in zip(job.clips, clips, strict=True):
        line = _stream_line(Path(clip.location))
        assert "h264" in line and "avc1" in line and "yuv420p(tv" in line, line
        # Each clip decodes from its own first packet on (an IDR picture): no frame is lost to it.
        assert len(framemd5(Path(clip.location))) == entry["last_frame"] - entry["first_frame"] + 1
    # The JPEGs and the judge still see every decoded frame: names by source frame index, as ever.
    assert manifest["frames"] and all(f["frame_index"] % 3 == 0 for f in manifest["frames"])


def test_clip_jobs_copy_the_same_clips(tmp_path: Path) -> None:
    src = make(tmp_path / "cam.avi", *lavfi_video(SECONDS), *X264)

    single = run_local_job(src, tmp_path / "single", CFG)
    parallel = convert_with_jobs(src, SourceRef(key=src.name, size=src.stat().st_size),
                                 LocalStore(tmp_path / "parallel"), CFG, jobs=2)  # fmt: skip

    assert _manifest(parallel)["conversion"]["path"] == "parallel"
    assert _manifest(parallel)["picture"]["video"] == "copied"
    assert [Path(c.location).read_bytes() for c in parallel.clips] == [
        Path(c.location).read_bytes() for c in single.clips
    ]
    assert _clip_md5s(parallel) == framemd5(src)


NOT_COPIED = {
    "yuv422p": (["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv422p"], "yuv422p"),
    "interlaced": (["-vf", "interlace", "-c:v", "libx264", "-preset", "veryfast", "-flags", "+ildct+ilme",
                    "-x264-params", "tff=1"], "interlaced"),
    "full_range": (["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuvj420p"], "full range"),
    "mjpeg": (["-c:v", "mjpeg"], "mjpeg, not H.264"),
    "high_10": (["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p10le"], "yuv420p10le"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(NOT_COPIED))
def test_what_browsers_may_not_play_is_encoded_and_the_manifest_says_why(tmp_path: Path, case: str) -> None:
    args, why = NOT_COPIED[case]
    src = make(tmp_path / f"{case}.avi", *lavfi_video(1.0), *args)

    job = run_local_job(src, tmp_path / "out", CFG)

    picture = _manifest(job)["picture"]
    assert picture["video"] == "encoded" and why in picture["copy"], picture
    line = _stream_line(Path(job.clips[0].location))
    assert "yuv420p(tv" in line and ("High" in line or "Main" in line or "h264" in line), line
    assert len(framemd5(Path(job.clips[0].location))) == len(framemd5(src))


def test_never_copy_encodes_browser_h264(tmp_path: Path) -> None:
    src = make(tmp_path / "cam.avi", *lavfi_video(1.0), *X264)

    command = [sys.executable, "-m", "avi2mp4", "convert", str(src), "--out", str(tmp_path / "out"), "--json"]
    proc = subprocess.run([*command, "--copy", "never"], capture_output=True, text=True, timeout=300, check=False)

    assert proc.returncode == 0, proc.stderr
    manifest = json.loads(Path(json.loads(proc.stdout)["manifest"]).read_text())
    assert manifest["picture"]["video"] == "encoded"
    assert manifest["picture"]["copy"] == "the setting VIDEO_COPY=never"
    assert manifest["settings"]["video_copy"] == "never"


def test_a_copy_that_turns_out_impossible_is_encoded_and_says_so(tmp_path: Path) -> None:
    """Open GOPs (keyframes that are I pictures, not IDR), cut by a stream copy as editors do: the
    file's first frame is no IDR picture, so no MP4 clip may start with its packet. Nothing in the
    stream's parameters says so beforehand; the pass finds out at the first frame and encodes."""
    whole = make(tmp_path / "whole.avi", *lavfi_video(4.0), "-c:v", "libx264", "-preset", "veryfast", "-bf", "2",
                 "-g", "25", "-x264-params", "open-gop=1:keyint=25:min-keyint=25:scenecut=0")  # fmt: skip
    src = tmp_path / "cut.avi"
    subprocess.run([ffmpeg(), "-v", "error", "-ss", "1.5", "-i", str(whole), "-c", "copy", str(src)], check=True)
    assert framemd5(src), "the cut decodes"

    job = run_local_job(src, tmp_path / "out", CFG)

    picture = _manifest(job)["picture"]
    assert picture["video"] == "encoded"
    assert picture["copy"].startswith("copy abandoned: ") and "IDR" in picture["copy"], picture
    assert sum(len(framemd5(Path(c.location))) for c in job.clips) == len(framemd5(src))


def test_copy_setting_rejects_what_it_does_not_know() -> None:
    with pytest.raises(ConfigError, match="VIDEO_COPY"):
        read_env({"VIDEO_COPY": "always"})
    assert read_env({"VIDEO_COPY": "never"}).video_copy == "never"
