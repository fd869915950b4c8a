"""Speed, size and memory of the pipeline against the ffmpeg CLI, measured side by side in one run.

    python bench/bench_pipeline.py [--seconds 60] [--long-seconds 300] [--runs 3]

Inputs: generated 720p30 MJPEG AVIs (yuvj422p, full range, PCM audio), like a camera's. Baselines,
with the same x264 preset and CRF, both run by the ffmpeg binary that imageio-ffmpeg ships:
  cli       ffmpeg transcode to yuv420p MP4 with AAC, colours as they come (BT.601 numbers, untagged);
  same      that transcode with the pipeline's colour work (BT.601 full -> BT.709 limited by the same
            colorspace filter, tagged): the same work, what the pipeline must be within 1.03x of;
  two-step  that transcode, then a second ffmpeg pass writing every 10th frame as a JPEG.
Our run is measured with the independent read-back of every clip at each --verify-pictures level
(keyframes, the default; reference; all) and without it (--no-verify).
Each command runs as a subprocess, start-up included; the figures are medians over --runs. The
machine is noisy: read the ratios, not the seconds. Peak RSS comes from wait4() of each child.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
PRESET, CRF = "veryfast", "23"


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float


def run(cmd: list[str]) -> Run:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode() if proc.stderr else ''}")
    return Run(elapsed, usage.ru_maxrss / 1024)


def make_input(path: Path, seconds: float) -> Path:
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
         "-c:v", "mjpeg", "-q:v", "4", "-pix_fmt", "yuvj422p", "-c:a", "pcm_s16le", str(path)],
        check=True,
    )  # fmt: skip
    return path


def cli_cmd(src: Path, out: Path) -> list[str]:
    return [FFMPEG, "-v", "error", "-y", "-i", str(src), "-c:v", "libx264", "-preset", PRESET, "-crf", CRF,
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart", str(out)]  # fmt: skip


# What the pipeline does to this input's colours besides the CLI's plain transcode: MJPEG is BT.601
# full range; an HD MP4 is BT.709 limited (players assume BT.709 for HD), converted by the same
# FFmpeg filter with the same parameters, and tagged.
SAME_COLOURS = ["-vf", "colorspace=ispace=bt470bg:irange=pc:iprimaries=bt709:itrc=bt709:primaries=bt709:trc=bt709"
                ":space=bt709:range=tv:format=yuv420p", "-colorspace", "bt709", "-color_primaries", "bt709",
                "-color_trc", "bt709", "-color_range", "tv"]  # fmt: skip


def cli_same_cmd(src: Path, out: Path) -> list[str]:
    """The CLI doing the same work: the transcode with the pipeline's colour conversion."""
    cmd = cli_cmd(src, out)
    return [*cmd[:6], *SAME_COLOURS, *cmd[6:]]


def jpeg_cmd(src: Path, out_dir: Path) -> list[str]:
    return [FFMPEG, "-v", "error", "-y", "-i", str(src), "-vf", "select=not(mod(n\\,10))", "-fps_mode",
            "passthrough", "-q:v", "3", str(out_dir / "f%06d.jpg")]  # fmt: skip


def ours_cmd(src: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "avi2mp4", "convert", str(src), "--out", str(out), "--preset", PRESET,
            "--crf", CRF, "--no-progress", *extra]  # fmt: skip


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def compare(src: Path, work: Path, runs: int) -> dict[str, float]:
    t_cli, t_two, t_ours, t_unverified, rss_cli, rss_ours, t_same = [], [], [], [], [], [], []
    t_level: dict[str, list[float]] = {"reference": [], "all": []}
    for i in range(runs):
        # Interleaved, so drift in machine load hits all three alike.
        cli_out = work / f"cli{i}.mp4"
        r = run(cli_cmd(src, cli_out))
        t_cli.append(r.seconds)
        rss_cli.append(r.peak_rss_mb)
        t_same.append(run(cli_same_cmd(src, work / f"same{i}.mp4")).seconds)
        jdir = work / f"jpeg{i}"
        jdir.mkdir()
        t_two.append(r.seconds + run(jpeg_cmd(src, jdir)).seconds)
        ours = work / f"ours{i}"
        r = run(ours_cmd(src, ours))
        t_ours.append(r.seconds)
        rss_ours.append(r.peak_rss_mb)
        t_unverified.append(run(ours_cmd(src, work / f"unverified{i}", "--no-verify")).seconds)
        for level, times in t_level.items():
            times.append(run(ours_cmd(src, work / f"{level}{i}", "--verify-pictures", level)).seconds)
    ours_mp4 = next((work / "ours0" / "video-mp4").glob("*.mp4"))
    return {
        "cli_s": median(t_cli), "two_step_s": median(t_two), "ours_s": median(t_ours), "same_s": median(t_same),
        "unverified_s": median(t_unverified),
        **{f"{level}_s": median(times) for level, times in t_level.items()},
        "cli_mb": (work / "cli0.mp4").stat().st_size / 1e6, "ours_mb": ours_mp4.stat().st_size / 1e6,
        "cli_rss": median(rss_cli), "ours_rss": median(rss_ours),
        "spread": (max(t_ours) - min(t_ours)) / median(t_ours),
    }  # fmt: skip


def peak_workdir(src: Path, work: Path) -> tuple[float, float]:
    """Peak bytes in the pipeline's work folder vs. total clip bytes, for a split video (in process)."""
    from avi2mp4.conversion.one_pass import run_job
    from avi2mp4.settings import PipelineConfig
    from avi2mp4.storage.local import LocalStore
    from avi2mp4.storage.port import SourceRef

    tmp_root = work / "tmp-root"
    tmp_root.mkdir()
    peak = [0]
    done = threading.Event()

    def file_size(path: Path) -> int:
        try:
            return path.stat().st_size if path.is_file() else 0
        except FileNotFoundError:  # handed over (moved away) between the listing and the stat
            return 0

    def watch() -> None:
        while not done.is_set():
            size = sum(file_size(p) for p in tmp_root.rglob("*"))
            peak[0] = max(peak[0], size)
            done.wait(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    cfg = PipelineConfig(clip_seconds=60, split_after_seconds=120, x264_preset=PRESET)
    job = run_job(src, SourceRef(src.name, src.stat().st_size), LocalStore(work / "split"), cfg,
                         tmp_root=tmp_root)  # fmt: skip
    done.set()
    watcher.join()
    return peak[0] / 1e6, sum(c.size for c in job.clips) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--long-seconds", type=float, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="avi2mp4-bench-"))
    try:
        src = make_input(work / "in60.avi", args.seconds)
        r = compare(src, work, args.runs)
        print(
            f"input: {args.seconds:.0f} s 1280x720 30 fps MJPEG 4:2:2 + PCM, {src.stat().st_size / 1e6:.0f} MB;"
            f" x264 {PRESET} crf {CRF}; medians of {args.runs} runs (ours spread {r['spread']:.0%})"
        )
        print(f"wall time   cli {r['cli_s']:.2f} s | cli with the same colour conversion {r['same_s']:.2f} s | "
              f"two-step {r['two_step_s']:.2f} s | avi2mp4 {r['ours_s']:.2f} s")  # fmt: skip
        print(
            f"  ratio     avi2mp4/cli doing the same work = {r['ours_s'] / r['same_s']:.3f} (target <= 1.03); "
            f"avi2mp4/plain cli = {r['ours_s'] / r['cli_s']:.3f}; two-step/cli = {r['two_step_s'] / r['cli_s']:.3f}"
        )
        print(
            f"read-back   avi2mp4 {r['ours_s']:.2f} s | --no-verify {r['unverified_s']:.2f} s | "
            f"ratio {r['ours_s'] / r['unverified_s']:.3f} (target <= 1.05: every clip read back by the "
            "ffmpeg binary, every packet checksummed, keyframes decoded)"
        )
        levels = [f"{v} {r[f'{v}_s']:.2f} s, ratio {r[f'{v}_s'] / r['unverified_s']:.3f}" for v in ("reference", "all")]
        print("  decoding more (--verify-pictures): " + "; ".join(levels))
        print(
            f"mp4 size    cli {r['cli_mb']:.2f} MB | avi2mp4 {r['ours_mb']:.2f} MB | "
            f"ratio {r['ours_mb'] / r['cli_mb']:.3f} (target <= 1.0)"
        )
        print(f"peak RSS    cli {r['cli_rss']:.0f} MB | avi2mp4 {r['ours_rss']:.0f} MB ({args.seconds:.0f} s input)")
        long_src = make_input(work / "in_long.avi", args.long_seconds)
        long_run = run(ours_cmd(long_src, work / "long-out"))
        print(
            f"peak RSS    avi2mp4 {long_run.peak_rss_mb:.0f} MB ({args.long_seconds:.0f} s input): "
            f"ratio to {args.seconds:.0f} s = {long_run.peak_rss_mb / r['ours_rss']:.2f} (flat = ~1.0)"
        )
        peak, clips = peak_workdir(long_src, work)
        print(f"work folder peak {peak:.1f} MB while writing {clips:.1f} MB of clips "
              f"({args.long_seconds:.0f} s split into 60 s clips): clips are handed over as they finish")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
