"""The clip-job path for long recordings against the single pass, measured side by side in one run,
and a model of its wall time and cost on Lambda built from the measured parts.

    python bench/bench_parallel.py [--minutes 10]

Input: a generated 720p30 MJPEG AVI with PCM audio (as bench_pipeline.py), --minutes long, cut into
120 s clips. Measured here (2 cores; medians where repeated):
  single pass     avi2mp4 convert (one decode pass), and the ffmpeg CLI transcode for reference;
  clip jobs       avi2mp4 convert --jobs 2: plan, one process per clip, finish;
  parts           plan time and bytes read, one 120 s clip job alone, finish, the handler's import.
CPU is user + system time of every process involved (the ffmpeg read-back included). The model
then assumes what this machine cannot show: all clips at once (concurrency >= clips), each clip job
on Lambda at 3008 MB (1.7 vCPU; measured speed scaled by 2 / 1.7 cores), the clip's bytes fetched
at an S3 throughput of S3_MB_S per function, added serially (conservative: clip jobs read 4 MiB
ahead on a thread, so most of it overlaps the decoding), and
Distributed Map's start-up as stated. Read the ratios, not the seconds: the machine is noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_pipeline import CRF, FFMPEG, PRESET, make_input

from avi2mp4.conversion.finish import VERIFY_WORKERS

S3_MB_S = 60.0
"""Sequential 1 MiB ranged GETs from one function (first-byte latency dominates small reads)."""
MAP_START_S = 2.0
"""Distributed Map: start-up of the map run and its child executions (stated, not measured)."""
STATE_OVERHEAD_S = 1.0
"""Step Functions transitions between plan, map and finish (stated)."""
IMAGE_INIT_S = 2.0
"""A container-image function's cold start before our import (image already cached; stated)."""
S3_HEAD_MS = 15.0
"""One HEAD request (finish verifies every output with one, VERIFY_WORKERS at a time)."""
LAMBDA_GB, LAMBDA_VCPU, LOCAL_CORES = 3.008, 1.7, 2
PRICE_GB_S = 0.0000166667  # x86 Lambda, us-east-1
PRICE_TRANSITION = 0.000025  # Step Functions standard, per state transition
MEDIACONVERT_HOUR = 0.90  # basic tier, HD, per output hour


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measured[T](fn: Callable[[], T]) -> tuple[T, float, float]:
    """(result, wall seconds, CPU seconds of this process and every child it waited for)."""
    cpu, wall = cpu_seconds(), time.perf_counter()
    result = fn()
    return result, time.perf_counter() - wall, cpu_seconds() - cpu


def convert(src: Path, out: Path, *extra: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "avi2mp4", "convert", str(src), "--out", str(out), "--preset",
                           PRESET, "--crf", CRF, "--no-progress", "--json", *extra],
                          capture_output=True, text=True, check=True)  # fmt: skip
    summary: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return summary


def main() -> None:
    # A stopped run (Ctrl-C, `timeout`) still removes its ~1 GB work folder: SIGTERM unwinds too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    seconds = args.minutes * 60
    work = Path(tempfile.mkdtemp(prefix="avi2mp4-bench-parallel-"))
    try:
        src, make_s, _ = measured(lambda: make_input(work / "long.avi", seconds))
        size_mb = src.stat().st_size / 1e6
        print(f"input: {args.minutes:.0f} min 1280x720 30 fps MJPEG 4:2:2 + PCM, {size_mb:.0f} MB "
              f"(made in {make_s:.0f} s); x264 {PRESET} crf {CRF}; 120 s clips")  # fmt: skip

        single, single_s, single_cpu = measured(lambda: convert(src, work / "single"))
        cli = [FFMPEG, "-v", "error", "-y", "-i", str(src), "-c:v", "libx264", "-preset", PRESET, "-crf", CRF,
               "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart", str(work / "cli.mp4")]  # fmt: skip
        _, cli_s, cli_cpu = measured(lambda: subprocess.run(cli, check=True))
        jobs, jobs_s, jobs_cpu = measured(lambda: convert(src, work / "jobs", "--jobs", "2"))
        manifest = json.loads(Path(jobs["manifest"]).read_text())
        assert manifest["conversion"]["path"] == "parallel", manifest["conversion"]
        assert jobs["frames"] == single["frames"] and jobs["jpegs"] == single["jpegs"], (jobs, single)
        print(f"single pass   wall {single_s:6.1f} s  CPU {single_cpu:6.1f} s   (ffmpeg CLI transcode: wall "
              f"{cli_s:.1f} s, CPU {cli_cpu:.1f} s; single/CLI wall {single_s / cli_s:.3f} with JPEGs and read-back:"
              " bench_pipeline.py measures the 1.05x target)")  # fmt: skip
        print(f"clip jobs x2  wall {jobs_s:6.1f} s  CPU {jobs_cpu:6.1f} s   ({len(manifest['clips'])} clips, "
              f"same frames and JPEGs as the single pass)")  # fmt: skip
        print(
            f"  CPU ratio   clip jobs / single pass = {jobs_cpu / single_cpu:.3f} (target <= 1.10: the cost of cutting)"
        )
        print(f"  wall ratio  --jobs 2 / single pass  = {jobs_s / single_s:.3f} (2 cores: one pass already uses both)")

        parts = measure_parts(src, work)
        model(parts, seconds, size_mb)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure_parts(src: Path, work: Path) -> dict[str, float]:
    """Plan, one clip job alone, finish, and the handler's import: what the Lambda model is built from."""
    sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "layers"), str(Path(__file__).resolve().parents[1])]
    import dataclasses

    from avi2mp4.conversion.clip_job import run_clip
    from avi2mp4.conversion.finish import finish, start
    from avi2mp4.conversion.plan import make_plan
    from avi2mp4.settings import PipelineConfig
    from avi2mp4.storage.local import LocalStore
    from avi2mp4.storage.port import SourceRef
    from devtools.counting_file import CountingFile

    cfg = PipelineConfig(x264_preset=PRESET, x264_crf=int(CRF))
    store = LocalStore(work / "parts")
    source = SourceRef(src.name, src.stat().st_size)
    counting = CountingFile(src)
    planned, plan_s, _ = measured(lambda: make_plan(counting, source, cfg))  # type: ignore[arg-type]
    plan = dataclasses.replace(planned, run_id="bench")
    start(plan, store)
    clip_runs = []
    for span in plan.clips:
        _, clip_s, clip_cpu = measured(lambda span=span: run_clip(src, plan, span.index, store, cfg, tmp_root=work))  # type: ignore[misc]
        clip_runs.append((clip_s, clip_cpu))
    done, finish_s, _ = measured(lambda: finish(plan, store, cfg))
    job = done.job
    imports = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for _ in range(3):
        _, import_s, _ = measured(
            lambda: subprocess.run([sys.executable, "-c", "import handler.app"], check=True, env=env)
        )
        imports.append(import_s)
    full = [r for r, span in zip(clip_runs, plan.clips, strict=True) if span.last_frame - span.first_frame > 1000]
    slowest_s, slowest_cpu = max(full or clip_runs)
    objects = len(job.clips) + len(job.images)
    print(f"parts         plan {plan_s:.2f} s reading {counting.bytes / 1e6:.2f} MB; a 120 s clip job alone: wall "
          f"{slowest_s:.1f} s (slowest of {len(clip_runs)}), CPU {slowest_cpu:.1f} s; finish {finish_s:.2f} s "
          f"({objects} outputs); handler import {statistics.median(imports):.2f} s")  # fmt: skip
    clip_mb = max(s.last_frame - s.first_frame + 1 for s in plan.clips) / plan.frames * src.stat().st_size / 1e6
    return {"plan_s": plan_s, "clip_s": slowest_s, "clip_cpu": slowest_cpu, "import_s": statistics.median(imports),
            "clip_mb": clip_mb, "jpegs_per_clip": len(job.images) / len(plan.clips)}  # fmt: skip


def model(p: dict[str, float], seconds: float, size_mb: float) -> None:
    clip_on_lambda = p["clip_s"] * LOCAL_CORES / LAMBDA_VCPU + p["clip_mb"] / S3_MB_S
    print(f"model         a clip job on Lambda: {p['clip_s']:.1f} s x {LOCAL_CORES}/{LAMBDA_VCPU} cores + "
          f"{p['clip_mb']:.0f} MB at {S3_MB_S:.0f} MB/s = {clip_on_lambda:.1f} s")  # fmt: skip
    for hours, goal in ((1, 90), (8, 120)):
        clips = round(hours * 3600 / 120)
        objects = clips * (1 + p["jpegs_per_clip"])
        finish_s = objects * S3_HEAD_MS / 1000 / VERIFY_WORKERS + 1.0  # HEADs in flight, the manifest, the listing
        cold = IMAGE_INIT_S + p["import_s"]
        wall = cold + p["plan_s"] + STATE_OVERHEAD_S + MAP_START_S + cold + clip_on_lambda + cold + finish_s
        gb_s = LAMBDA_GB * (clips * (cold + clip_on_lambda) + p["plan_s"] + cold + finish_s)
        transitions = 4 + clips * 3  # map, finish, per child execution: start, task, end
        cost = gb_s * PRICE_GB_S + transitions * PRICE_TRANSITION
        print(f"  {hours} h 720p  {clips} clips at concurrency {max(clips, 240)}: wall ~{wall:.0f} s "
              f"(goal <= {goal} s); {gb_s:,.0f} GB-s = ${cost / hours:.2f} per video-hour "
              f"(MediaConvert basic HD ${MEDIACONVERT_HOUR:.2f})")  # fmt: skip
    print(f"  assumptions: concurrency >= clips; {S3_MB_S:.0f} MB/s S3 per function, not overlapped with decoding; "
          f"Distributed Map start {MAP_START_S:.0f} s, transitions {STATE_OVERHEAD_S:.0f} s; cold start = "
          f"{IMAGE_INIT_S:.0f} s + the handler's import, paid by plan, clip jobs and finish; HEAD "
          f"{S3_HEAD_MS:.0f} ms, {VERIFY_WORKERS} at a time.")  # fmt: skip
    print(f"  anchor: a split/transcode/merge pipeline on Step Functions reports 60 min 1080p->720p in 230 s "
          f"({size_mb:.0f} MB here per {seconds / 60:.0f} min of 720p MJPEG)")  # fmt: skip


if __name__ == "__main__":
    main()
