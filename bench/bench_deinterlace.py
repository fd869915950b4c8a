"""What deinterlacing costs a frame, at 576i and 1080i, against the ffmpeg CLI's bwdif in the same run.

    python bench/bench_deinterlace.py [--frames 150] [--runs 5]

Inputs: generated interlaced MJPEG (a moving pan woven into fields, as a camera writes them). Ours:
the frames decoded once, then pushed through ``PictureChain`` (bwdif, one frame per frame), its
CPU time alone. Baseline: the ffmpeg binary decoding the file with ``bwdif`` and without, the
difference in CPU time per frame (the CLI runs its filters on a thread of their own, so wall time
would hide the cost). Medians over --runs; read the ratio, the machine is noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import av
import imageio_ffmpeg

from avi2mp4.media.colour import PictureColour, render
from avi2mp4.media.decode import DecodedFrame
from avi2mp4.media.interlace import Interlace
from avi2mp4.media.picture_setup import PictureChain, PictureSetup

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def make(path: Path, size: str, frames: int) -> Path:
    width = int(size.split("x")[0])
    graph = (f"testsrc2=size={2 * width}x{size.split('x')[1]}:rate=50,crop={size.replace('x', ':')}:"
             f"mod(n*19\\,{width}):0,interlace=scan=tff")  # fmt: skip
    subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", graph, "-frames:v", str(frames),
                    "-c:v", "mjpeg", "-q:v", "4", str(path)], check=True)  # fmt: skip
    return path


def ours(path: Path) -> float:
    """CPU milliseconds a frame in PictureChain (decoding excluded)."""
    with av.open(str(path)) as container:
        frames = [f for f in container.decode(video=0)]
    first = frames[0]
    setup = PictureSetup(render(PictureColour.of(first), first.width, first.height), Interlace(True, "tff", "bench"))
    chain = PictureChain(setup)
    started = time.process_time()
    out = 0
    for i, frame in enumerate(frames):
        out += len(chain.push(DecodedFrame(i, i, frame, False)))
    out += len(chain.flush())
    assert out == len(frames)
    return (time.process_time() - started) * 1000 / len(frames)


def cli(path: Path, frames: int) -> float:
    """CPU milliseconds a frame the ffmpeg binary spends on bwdif (with it, less without)."""

    def timed(*vf: str) -> float:
        proc = subprocess.Popen([FFMPEG, "-v", "error", "-threads", "1", "-filter_threads", "1", "-i", str(path),
                                 *vf, "-f", "null", "-"])  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        return usage.ru_utime + usage.ru_stime

    return (timed("-vf", "bwdif=mode=send_frame:parity=tff:deint=all") - timed()) * 1000 / frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="avi2mp4-bench-") as tmp:
        for size in ("720x576", "1920x1080"):
            src = make(Path(tmp) / f"{size}.avi", size, args.frames)
            mine = statistics.median(ours(src) for _ in range(args.runs))
            theirs = statistics.median(cli(src, args.frames) for _ in range(args.runs))
            print(
                f"{size} interlaced: bwdif {mine:.2f} ms/frame in PictureChain, {theirs:.2f} ms/frame in the "
                f"ffmpeg CLI (ratio {mine / theirs:.2f}); {1000 / mine:.0f} frames per CPU second"
            )


if __name__ == "__main__":
    main()
