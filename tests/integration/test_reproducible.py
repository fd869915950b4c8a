"""The same input with the same settings gives the same bytes, run after run: one pass and clip
jobs alike. x264's AVX-512 code broke that (a different stream most runs on this corpus); the
encoder now leaves it out (``media.encoders.x264_cpu_flags``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from avi2mp4.media.encoders import NONDETERMINISTIC_CPU, x264_cpu_flags
from avi2mp4.settings import PipelineConfig
from avi2mp4.storage.local import LocalStore
from avi2mp4.storage.port import SourceRef
from devtools.readback import lavfi_audio, lavfi_video, make
from devtools.sample_avi import make_sample_avi
from tests.local_job import convert_with_jobs, run_local_job

SMALL = PipelineConfig(clip_seconds=1.0, split_after_seconds=2.0, frame_step=3)


def _corpus(d: Path) -> list[Path]:
    """What the real-world runs that differed held: MJPEG with PCM, MPEG-4 ASP with B-frames and MP3,
    H.264 with a SAR, an odd height."""
    d.mkdir()
    return [
        make_sample_avi(d / "camera.avi", 12.0),
        make(d / "asp_mp3.avi", *lavfi_video(3.0, "400x200"), *lavfi_audio(3.0), "-c:v", "mpeg4", "-bf", "2",
             "-q:v", "4", "-vtag", "XVID", "-c:a", "libmp3lame"),
        make(d / "h264_sar.avi", *lavfi_video(3.0, "352x288"), "-vf", "setsar=12/11", "-c:v", "libx264",
             "-bf", "3", "-preset", "veryfast"),
        make(d / "odd.avi", *lavfi_video(2.0, "322x241", src="testsrc"), "-c:v", "mjpeg"),
    ]  # fmt: skip


def _fingerprint(root: Path) -> dict[str, str]:
    """Every output's SHA-256; manifests and Label Studio's tasks with their locations (this run's
    folder) left out."""
    found = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.name.endswith(".manifest.json"):
            manifest = json.loads(data)
            for row in [*manifest["clips"], *manifest["frames"], *manifest["review_sheets"],
                        *manifest["labeling_tools"].values()]:  # fmt: skip
                row.pop("location")
            manifest["labeling_tools"].get("label_studio_tasks", {}).pop("sha256", None)
            data = json.dumps(manifest, sort_keys=True).encode()
        elif path.name == "label-studio-tasks.json":
            tasks = json.loads(data)
            for task in tasks:
                task["data"]["image"] = task["data"]["clip"] = None
            data = json.dumps(tasks).encode()
        found[path.relative_to(root).as_posix()] = hashlib.sha256(data).hexdigest()
    return found


def test_x264_leaves_out_its_nondeterministic_code_where_the_cpu_has_it() -> None:
    flags = x264_cpu_flags()
    has_avx512 = "avx512f" in Path("/proc/cpuinfo").read_text()
    assert (flags is not None) == has_avx512
    assert flags is None or (NONDETERMINISTIC_CPU not in flags.split(",") and "AVX2" in flags.split(","))


@pytest.mark.parametrize("path", ["one_pass", "clip_jobs"])
def test_same_input_same_settings_same_bytes(tmp_path: Path, path: str) -> None:
    sources = _corpus(tmp_path / "in") if path == "one_pass" else [make_sample_avi(tmp_path / "long.avi", 6.0)]
    runs = []
    for attempt in range(3):
        out = tmp_path / f"run{attempt}"
        for src in sources:
            if path == "one_pass":
                run_local_job(src, out)
            else:
                source = SourceRef(key=src.name, size=src.stat().st_size)
                job = convert_with_jobs(src, source, LocalStore(out), SMALL, jobs=2)
                assert job.manifest.conversion["path"] == "parallel"
        runs.append(_fingerprint(out))

    assert len([k for k in runs[0] if k.endswith(".mp4")]) >= len(sources)
    assert runs[1] == runs[0] and runs[2] == runs[0]
