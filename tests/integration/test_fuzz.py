"""Fuzzed AVIs, seeded and bounded: every file either converts to MP4s the independent decoder
reads, or is rejected in one typed line; no traceback, no hang, nothing left behind, and the batch
goes on. Run as users run it (the CLI, one batch) under a 4 GB address-space limit."""

from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import sys
from pathlib import Path

from devtools.fuzz import MUTATIONS, base_files, mutants
from devtools.readback import lavfi_video, make, run_ffmpeg

SEED, COUNT = 20261125, 36
MEMORY_LIMIT = 4 * 1024**3
TYPED = {"EmptyFile", "UnreadableVideo", "NoVideoStream", "NoDecodableFrames", "UnsupportedVideo", "ResourceLimit"}


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def test_fuzzed_avis_convert_or_are_rejected_cleanly(tmp_path: Path) -> None:
    files = mutants(base_files(tmp_path / "base"), tmp_path / "fuzz", SEED, COUNT)
    assert {f.stem.split("-", 2)[2] for f in files} == set(MUTATIONS), "every mutation is tried"
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()

    proc = subprocess.run(
        [sys.executable, "-m", "avi2mp4", "convert", str(tmp_path / "fuzz"), "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=600, check=False, preexec_fn=limit_memory,
        env={**os.environ, "TMPDIR": str(tmp)},
    )  # fmt: skip

    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(Path(line["input"]).name for line in lines) == sorted(f.name for f in files), "one line each"
    for line in lines:
        if line["status"] == "rejected":
            assert line["error"] in TYPED, line
            stem = Path(line["input"]).stem
            assert not [p for p in out.rglob(f"{stem}*")], f"a rejected file left outputs: {stem}"
            continue
        manifest = json.loads(Path(line["manifest"]).read_text())
        for clip in manifest["clips"]:
            errors = run_ffmpeg("-v", "error", "-i", clip["location"], "-map", "0", "-f", "null", "-").stderr
            assert errors.strip() == "", f"{clip['location']}: {errors}"
    assert not list(out.rglob("*.partial"))
    assert list(tmp.iterdir()) == [], "work folders left behind"
    converted = sum(line["status"] == "ok" for line in lines)
    assert converted >= COUNT // 2, "most mutants still hold a convertible video"


def test_out_of_memory_is_a_typed_rejection(tmp_path: Path) -> None:
    """An 8K MJPEG under a 1.5 GB address-space limit: x264 cannot allocate its frames."""
    src = make(tmp_path / "8k.avi", *lavfi_video(0.2, "7680x4320"), "-c:v", "mjpeg", "-q:v", "8")
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()

    def small_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1536 * 1024**2, 1536 * 1024**2))

    proc = subprocess.run([sys.executable, "-m", "avi2mp4", "convert", str(src), "--out", str(out), "--json"],
                          capture_output=True, text=True, timeout=300, check=False, preexec_fn=small_memory,
                          env={**os.environ, "TMPDIR": str(tmp)})  # fmt: skip

    assert proc.returncode == 1, proc.stderr[-2000:]
    (line,) = [json.loads(x) for x in proc.stdout.splitlines()]
    assert line["error"] == "ResourceLimit" and "more memory" in line["reason"]
    assert "Traceback" not in proc.stderr
    assert not [p for p in out.rglob("*") if p.is_file()] and list(tmp.iterdir()) == []


def test_a_header_declaring_huge_frames_is_refused_before_any_allocation(tmp_path: Path) -> None:
    """A small AVI whose header declares 16000x16000 frames: refused from the header for the memory
    the function has (it used to reach 13.4 GB before failing: in Lambda, an out-of-memory kill)."""
    src = make(tmp_path / "huge.avi", *lavfi_video(1.0), "-c:v", "zmbv")  # its size comes from the header
    data = bytearray(src.read_bytes())
    at = data.find(b"strf") + 8  # BITMAPINFOHEADER: size, then width and height
    data[at + 4 : at + 12] = struct.pack("<ii", 16000, 16000)
    at = data.find(b"avih") + 8
    data[at + 32 : at + 40] = struct.pack("<II", 16000, 16000)
    src.write_bytes(bytes(data))
    out = tmp_path / "out"

    logs = tmp_path / "stdout", tmp_path / "stderr"
    with logs[0].open("w") as stdout_file, logs[1].open("w") as stderr_file:
        proc = subprocess.Popen([sys.executable, "-m", "avi2mp4", "convert", str(src), "--out", str(out), "--json"],
                                stdout=stdout_file, stderr=stderr_file,
                                env={**os.environ, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3008"})  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak
    stdout, stderr = logs[0].read_text(), logs[1].read_text()
    peak_mb = usage.ru_maxrss / 1024

    assert os.waitstatus_to_exitcode(status) == 1, stderr[-2000:]
    (line,) = [json.loads(x) for x in stdout.splitlines()]
    assert line["error"] == "ResourceLimit" and "16000x16000" in line["reason"] and "3008 MB" in line["reason"]
    assert peak_mb < 1000, f"refused before allocating: peak {peak_mb:.0f} MB"
    assert not [p for p in out.rglob("*") if p.is_file()]
