"""H.264 copied against H.264 encoded: the same recording through ``avi2mp4 convert`` with
``--copy auto`` and ``--copy never``, side by side in one run, in one pass and as clip jobs.

    python bench/bench_copy.py [--minutes 10] [--runs 1]

Input: a generated 720p30 H.264 AVI (x264 veryfast, B-frames, an IDR picture every 2 s as cameras
write them) with PCM audio, --minutes long, cut into 120 s clips. Both runs do all the rest of the
work (every frame decoded for the JPEGs and the dead-frame judge, audio to AAC, review sheets,
read-back). The copied clips' frames are checked bit-identical to the source's frames, decoded by
the ffmpeg binary (framemd5), once and in order. Medians over --runs; read the ratios.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_pipeline import CRF, FFMPEG, PRESET


def make_input(path: Path, seconds: float) -> Path:
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
         "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", "60", "-bf", "2",
         "-c:a", "pcm_s16le", str(path)],
        check=True,
    )  # fmt: skip
    return path


def convert(src: Path, out: Path, *extra: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "avi2mp4", "convert", str(src), "--out", str(out), "--preset",
                           PRESET, "--crf", CRF, "--no-progress", "--json", *extra],
                          capture_output=True, text=True, check=True)  # fmt: skip
    seconds = time.perf_counter() - started
    summary: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    manifest: dict[str, Any] = json.loads(Path(summary["manifest"]).read_text())
    shutil.rmtree(out)
    return seconds, manifest


def framemd5(path: Path) -> list[str]:
    out = subprocess.run([FFMPEG, "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if line and not line.startswith("#")]


def identical(src: Path, out: Path) -> bool:
    """Convert with copy once more, keep the clips, and compare every frame's checksum."""
    proc = subprocess.run([sys.executable, "-m", "avi2mp4", "convert", str(src), "--out", str(out), "--no-progress",
                           "--json"], capture_output=True, text=True, check=True)  # fmt: skip
    clips = json.loads(proc.stdout.strip().splitlines()[-1])["clip_paths"]
    same = [md5 for clip in clips for md5 in framemd5(Path(clip))] == framemd5(src)
    shutil.rmtree(out)
    return same


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped run still removes its work folder
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-jobs", action="store_true", help="leave out the clip-job path")
    args = parser.parse_args()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="avi2mp4-bench-") as tmp:
        src = make_input(Path(tmp) / "h264.avi", seconds)
        print(f"input: {seconds:.0f} s of 720p30 H.264 + PCM, {src.stat().st_size / 1e6:.0f} MB", flush=True)
        paths: list[tuple[str, list[str]]] = [("one pass", [])]
        if not args.no_jobs:
            paths.append(("clip jobs", ["--jobs", "2"]))
        for name, extra in paths:
            walls: dict[str, list[float]] = {"auto": [], "never": []}
            for _ in range(args.runs):
                for mode in ("auto", "never"):
                    wall, manifest = convert(src, Path(tmp) / "out", "--copy", mode, *extra)
                    walls[mode].append(wall)
                    assert manifest["picture"]["video"] == ("copied" if mode == "auto" else "encoded"), manifest
            copy, encode = statistics.median(walls["auto"]), statistics.median(walls["never"])
            print(f"{name}: copy {copy:.1f} s, encode {encode:.1f} s, ratio {copy / encode:.2f} (copy runs at "
                  f"{seconds / copy:.1f}x real time, encode at {seconds / encode:.1f}x)", flush=True)  # fmt: skip
        same = identical(src, Path(tmp) / "check")
        print(f"copied frames bit-identical to the source's decode (framemd5): {same}")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
