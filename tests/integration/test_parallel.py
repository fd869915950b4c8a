"""Clip jobs give what one pass gives: the same clips, frame ranges, JPEG names and dead-frame
verdicts, every source frame once and in order (checked pixel-wise by the independent decoder),
and audio cut at the same samples. Files that cannot be cut take one pass, and say so."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from avi2mp4.conversion.one_pass import JobResult
from avi2mp4.conversion.plan import make_plan
from avi2mp4.settings import PipelineConfig
from avi2mp4.storage.local import LocalStore
from avi2mp4.storage.port import SourceRef
from devtools.counting_file import CountingFile
from devtools.readback import audio_samples, gray_frames, lavfi_audio, lavfi_video, make
from devtools.synth import write_corridor
from tests import avi_traps
from tests.local_job import convert_with_jobs, run_local_job

# Scaled down: 1 s clips, split after 2 s, a JPEG every 3rd frame. The logic is that of 120/240/10.
CFG = PipelineConfig(clip_seconds=1.0, split_after_seconds=2.0, frame_step=3)
SECONDS = 5.2  # six clips, the last one short
SIZE = (320, 240)


def _source(src: Path) -> SourceRef:
    return SourceRef(key=src.name, size=src.stat().st_size)


def _both(src: Path, tmp: Path, cfg: PipelineConfig = CFG) -> tuple[JobResult, JobResult]:
    single = run_local_job(src, tmp / "single", cfg)
    parallel = convert_with_jobs(src, _source(src), LocalStore(tmp / "parallel"), cfg, jobs=2)
    return single, parallel


def _manifest(job: JobResult) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(job.manifest_object.location).read_text())
    return data


def _same_outputs(single: JobResult, parallel: JobResult) -> None:
    a, b = _manifest(single), _manifest(parallel)
    assert b["conversion"] == {"path": "parallel", "clip_jobs": len(a["clips"])}
    named = ("key", "first_frame", "last_frame", "frames", "start_seconds", "duration_seconds")
    assert [{k: c[k] for k in named} for c in b["clips"]] == [{k: c[k] for k in named} for c in a["clips"]]
    assert [(f["key"], f["frame_index"], f["pts_seconds"], f["clip"]) for f in b["frames"]] == [
        (f["key"], f["frame_index"], f["pts_seconds"], f["clip"]) for f in a["frames"]
    ]
    assert b["dead_frames"] == a["dead_frames"]
    assert [r["key"] for r in b["review_sheets"]] == [r["key"] for r in a["review_sheets"]]
    assert b["source"] == a["source"]
    assert b["decode_errors"]["count"] == a["decode_errors"]["count"] == 0
    assert b["warnings"] == a["warnings"]


def _frame_exact(src: Path, job: JobResult) -> None:
    """Every source frame once and in order: each clip frame is nearest to the source frame of its
    own index, not to a neighbour (a slip by one frame fails here)."""
    source = gray_frames(src, *SIZE).astype(np.int16)
    clips = np.concatenate([gray_frames(Path(c.location), *SIZE) for c in job.clips]).astype(np.int16)
    assert len(clips) == len(source)
    for i, frame in enumerate(clips):
        near = {j: float(np.abs(frame - source[j]).mean()) for j in (i - 1, i, i + 1) if 0 <= j < len(source)}
        assert min(near, key=near.__getitem__) == i and near[i] < 4, (i, near)


CODECS = {
    "mjpeg_pcm": [*lavfi_audio(SECONDS), "-c:v", "mjpeg", "-q:v", "4", "-c:a", "pcm_s16le"],
    "mpeg4_bframes_adpcm": [*lavfi_audio(SECONDS, 22050), "-c:v", "mpeg4", "-bf", "2", "-g", "30", "-q:v", "3",
                            "-vtag", "DX50", "-c:a", "adpcm_ms"],
    "h264_bframes": ["-c:v", "libx264", "-bf", "3", "-g", "40", "-preset", "veryfast", "-crf", "18"],
    "raw_bgr24": ["-c:v", "rawvideo", "-pix_fmt", "bgr24"],
}  # fmt: skip


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_clip_jobs_equal_one_pass(tmp_path: Path, codec: str) -> None:
    src = make(tmp_path / f"{codec}.avi", *lavfi_video(SECONDS), *CODECS[codec])

    single, parallel = _both(src, tmp_path)

    # H.264 is copied: its clips start at IDR pictures, every 40 frames here (1.6 s), not every 1 s.
    assert len(parallel.clips) == (4 if codec == "h264_bframes" else 6)
    _same_outputs(single, parallel)
    _frame_exact(src, parallel)
    if "pcm" in codec or "adpcm" in codec:
        rate = 44100 if "pcm_" in codec else 22050
        for a, b in zip(single.clips, parallel.clips, strict=True):
            assert audio_samples(Path(b.location), rate) == audio_samples(Path(a.location), rate)


def test_freeze_across_a_clip_boundary_is_judged_as_in_one_pass(tmp_path: Path) -> None:
    # Frames 15..27 repeat frame 14: a freeze from 0.6 s to 1.12 s, across the cut at 1.0 s (frame 25).
    # Frame 27 is sampled and frozen; a clip job that knew nothing before its cut would keep it.
    src = make(tmp_path / "freeze.avi", *lavfi_video(SECONDS), "-filter_complex",
               "split[a][b];[a][b]freezeframes=first=15:last=27:replace=14",
               "-c:v", "mjpeg", "-q:v", "4")  # fmt: skip

    single, parallel = _both(src, tmp_path)

    _same_outputs(single, parallel)
    frozen = [d["frame_index"] for d in _manifest(parallel)["dead_frames"] if d["reason"] == "frozen"]
    assert any(i < 25 for i in frozen) and any(i >= 25 for i in frozen), frozen  # both sides of the cut


def test_vfr_capture_with_dropped_frames_cuts_exactly(tmp_path: Path) -> None:
    # 15 frames dropped around the first cut: zero-byte chunks keep their time as a gap.
    src = make(tmp_path / "vfr.avi", *lavfi_video(SECONDS), "-vf", "select='not(between(n\\,20\\,34))'",
               "-fps_mode", "passthrough", "-c:v", "mjpeg")  # fmt: skip

    single, parallel = _both(src, tmp_path)

    _same_outputs(single, parallel)
    assert _manifest(parallel)["clips"][0]["frames"] == 20


@pytest.mark.parametrize(
    ("trap", "why"),
    [
        (avi_traps.xvid_packed_bframes, "packed B-frames"),
        (avi_traps.truncated_no_index, "no index"),
        (avi_traps.header_1000fps, "re-timed"),
    ],
)
def test_what_cannot_be_cut_takes_one_pass_and_says_so(tmp_path: Path, trap: Any, why: str) -> None:
    src = trap(tmp_path).path
    cfg = PipelineConfig(clip_seconds=1.0, split_after_seconds=1.0, frame_step=3)  # the traps last 2 s

    job = convert_with_jobs(src, _source(src), LocalStore(tmp_path / "out"), cfg, jobs=2)

    conversion = _manifest(job)["conversion"]
    assert conversion["path"] == "sequential"
    assert why in conversion["why"]
    assert len(job.clips) > 1  # still split, by the single pass


def test_plan_reads_only_header_index_and_first_packets(tmp_path: Path) -> None:
    src = make(tmp_path / "long.avi", *lavfi_video(30.0), "-c:v", "mjpeg", "-q:v", "4")
    counting = CountingFile(src)

    plan = make_plan(counting, _source(src), CFG)  # type: ignore[arg-type]

    assert plan.parallel and len(plan.clips) == 30 and plan.frames == 750
    # The header, the index, and the first pictures (up to 48, decoded to set up deinterlacing and
    # colour): 12 % of this 30 s file, a fixed cost that vanishes in an hour-long one.
    assert counting.bytes < src.stat().st_size / 6, (counting.bytes, src.stat().st_size)
    assert plan.setup is not None and not plan.setup.interlace.deinterlace


def test_cli_jobs_flag(tmp_path: Path) -> None:
    src = make(tmp_path / "cli.avi", *lavfi_video(SECONDS), "-c:v", "mjpeg")
    out = tmp_path / "out"

    proc = subprocess.run(
        [sys.executable, "-m", "avi2mp4", "convert", str(src), "--out", str(out), "--jobs", "2", "--json",
         "--clip-seconds", "1", "--split-after", "2"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout)
    assert line["status"] == "ok" and line["clips"] == 6 and line["frames"] == 130
    manifest = json.loads(Path(line["manifest"]).read_text())
    assert manifest["conversion"]["path"] == "parallel"
    # Nothing but outputs: the plan and the clip reports are gone.
    assert sorted(p.name for p in (out / "video-mp4").iterdir()) == [
        "cli.manifest.json",
        *[f"cli_part{i:03d}.mp4" for i in range(6)],
        *[f"cli_review{i:03d}.jpg" for i in range(5)],  # the last clip (frames 125..129) has no sampled frame
    ]


def test_near_duplicates_are_thinned_across_clips_as_in_one_pass(tmp_path: Path) -> None:
    # An unchanging scene crossed twice; the JPEG kept last before a cut decides after it.
    src = write_corridor(tmp_path / "corridor.avi", 200, [range(20, 35), range(120, 135)])
    cfg = dataclasses.replace(CFG, min_change=0.004)

    single, parallel = _both(src, tmp_path, cfg)

    _same_outputs(single, parallel)
    manifest = _manifest(parallel)
    assert len(manifest["frames"]) < 20 < len(manifest["dead_frames"])
    assert {d["reason"] for d in manifest["dead_frames"]} == {"near_duplicate"}
    jpegs = sorted(p.name for p in (tmp_path / "parallel" / "unlabeled-images").rglob("*.jpg"))
    assert len(jpegs) == len(manifest["frames"]), "the thinned JPEGs are gone from the store"


def test_clip_jobs_without_the_dead_frame_filter_are_cut_too(tmp_path: Path) -> None:
    # No filter, no lookahead: a clip job must still decode its own frames, not stop at the audio
    # that comes before them (it used to, and the recording fell back to one pass).
    src = make(tmp_path / "nofilter.avi", *lavfi_video(SECONDS), *CODECS["mjpeg_pcm"])

    single, parallel = _both(src, tmp_path, dataclasses.replace(CFG, dead_frame_filter=False))

    _same_outputs(single, parallel)
    _frame_exact(src, parallel)


def test_an_index_that_cannot_be_the_files_is_not_cut(tmp_path: Path) -> None:
    """An index repeating the same two chunks over and over promised 120 clip jobs of a 5 s file."""
    src = make(tmp_path / "repeats.avi", *lavfi_video(SECONDS), "-c:v", "mjpeg")
    data = bytearray(src.read_bytes())
    at = data.rfind(b"idx1")
    entries = [bytes(data[at + 8 + i : at + 24 + i]) for i in range(0, 32, 16)]  # the first two video chunks
    repeated = b"".join(entries * 1500)
    data[at:] = b"idx1" + len(repeated).to_bytes(4, "little") + repeated
    src.write_bytes(bytes(data))

    plan = make_plan(src, _source(src), CFG)
    job = convert_with_jobs(src, _source(src), LocalStore(tmp_path / "out"), CFG, jobs=2)

    assert not plan.parallel and "cannot be this file's" in str(plan.sequential_because)
    assert job.manifest.conversion["path"] == "sequential"
    assert job.result.frames_decoded == round(SECONDS * 25)
