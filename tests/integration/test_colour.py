"""Colours as the source meant them: the MP4's matrix by its size (BT.709 for HD, BT.601 for SD) and
tagged in full (matrix, primaries, transfer, range); a source converted only where it differs;
HLG shown as SDR BT.709, PQ kept and tagged; JPEGs in the colours the reference decoder gives.

The reference is the ffmpeg binary (a separate FFmpeg build), decoding the source to RGB by what
its tags say: the matrix and range given explicitly, so no default of either build decides.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from avi2mp4.settings import PipelineConfig
from devtools.readback import ffmpeg, make, run_ffmpeg
from tests.local_job import run_local_job

KEEP = PipelineConfig(dead_frame_filter=False, review_sheet=False, x264_crf=0)
CFG = dataclasses.replace(KEEP, video_copy="never")
"""Encoded (not copied), lossless, so that the MP4's colours show the conversion's error alone
(CRF 23 adds up to 8 levels at the 99th percentile on these pictures)."""
SMOOTH = "testsrc2=size={size}:rate=25:duration=0.4,gblur=sigma=2"
"""Test colours without hard edges, where 4:2:0 and JPEG's own losses would drown the matrix."""


def _h264(path: Path, size: str, params: str, pix_fmt: str = "yuv420p") -> Path:
    return make(path, "-f", "lavfi", "-i", SMOOTH.format(size=size), "-c:v", "libx264", "-preset", "ultrafast",
                "-qp", "4", "-pix_fmt", pix_fmt, "-x264-params", params)  # fmt: skip


def stream_tags(path: Path) -> str:
    """The independent demuxer's word on the video stream: ``yuv420p(tv, bt709, progressive)``."""
    line = next(line for line in run_ffmpeg("-i", str(path)).stderr.splitlines() if "Video:" in line)
    return line.split("Video:", 1)[1]


def reference_rgb(path: Path, width: int, height: int, matrix: str, full: bool) -> np.ndarray:
    """Frame 0 as RGB, read by the reference decoder with the matrix and range the source declares."""
    proc = subprocess.run(
        [ffmpeg(), "-v", "error", "-i", str(path), "-frames:v", "1",
         "-vf", f"scale=in_color_matrix={matrix}:in_range={'pc' if full else 'tv'}:flags=accurate_rnd+full_chroma_int",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    return np.frombuffer(proc.stdout, dtype=np.uint8).reshape(height, width, 3).astype(int)


def _convert(src: Path, tmp_path: Path, cfg: PipelineConfig = CFG) -> tuple[Path, Path, dict[str, Any]]:
    job = run_local_job(src, tmp_path / "out", cfg)
    manifest = json.loads(Path(job.manifest_object.location).read_text())
    return Path(job.clips[0].location), Path(job.images[0].location), manifest


# (source, its size, the matrix and range it declares, the MP4's tags, whether its matrix is converted)
CASES = {
    "hd_bt709": ("colormatrix=bt709:colorprim=bt709:transfer=bt709", "1280x720", "yuv420p", "bt709", False,
                 "tv, bt709, progressive", None),
    "sd_bt601": ("colormatrix=smpte170m:colorprim=smpte170m:transfer=smpte170m", "640x480", "yuv420p", "bt601", False,
                 "tv, smpte170m, progressive", None),
    "hd_bt601_full": ("colormatrix=smpte170m:fullrange=on", "1280x720", "yuvj420p", "bt601", True,
                      "tv, bt709, progressive", "matrix converted from smpte170m to bt709"),
    "sd_bt709_full": ("colormatrix=bt709:fullrange=on", "720x576", "yuvj420p", "bt709", True,
                      "tv, bt470bg/bt470bg/smpte170m, progressive", "matrix converted from bt709 to bt470bg"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_mp4_and_jpegs_keep_the_colours_the_source_declares(case: str, tmp_path: Path) -> None:
    params, size, pix_fmt, matrix, full, tags, note = CASES[case]
    width, height = map(int, size.split("x"))
    src = _h264(tmp_path / f"{case}.avi", size, params, pix_fmt)
    truth = reference_rgb(src, width, height, matrix, full)

    mp4, jpeg, manifest = _convert(src, tmp_path)

    assert tags in stream_tags(mp4), stream_tags(mp4)
    colour = manifest["picture"]["colour"]
    assert colour["range"] == "limited" and (colour["note"] or "").startswith(note or ""), colour
    # The MP4 as a player shows it (the reference decoder, by the MP4's own tags) gives the source's
    # colours within 0.5 levels on average, 3 at the 99th percentile (measured: 0-0.34 and 0-3);
    # the JPEG (quality 90) within 1.5 and 8 (measured: 0.55-1.06 and 5-7). A matrix misread
    # (BT.709 numbers as BT.601) is off by 2-4 on average.
    shown = reference_rgb(mp4, width, height, "bt709" if "bt709," in tags else "bt601", False)
    image = np.asarray(Image.open(jpeg)).astype(int)
    for name, rgb, mean, p99 in (("mp4", shown, 0.5, 3), ("jpeg", image, 1.5, 8)):
        error = np.abs(rgb - truth)
        assert error.mean() < mean and np.percentile(error, 99) <= p99, (name, error.mean(), np.percentile(error, 99))


def test_untagged_hd_is_read_and_tagged_as_bt709(tmp_path: Path) -> None:
    """Nothing says which matrix: players assume BT.709 for HD, so the numbers stay as they are and
    the MP4 says BT.709; the JPEG reads them the same way (it used to read them as BT.601)."""
    src = make(tmp_path / "raw.avi", "-f", "lavfi", "-i", SMOOTH.format(size="1280x720"), "-c:v", "rawvideo",
               "-pix_fmt", "yuv420p")  # fmt: skip

    mp4, jpeg, manifest = _convert(src, tmp_path)

    assert "tv, bt709, progressive" in stream_tags(mp4)
    assert manifest["picture"]["colour"]["note"] is None
    truth = reference_rgb(src, 1280, 720, "bt709", False)
    error = np.abs(np.asarray(Image.open(jpeg)).astype(int) - truth)
    assert error.mean() < 1.5 and np.percentile(error, 99) <= 8, (error.mean(), np.percentile(error, 99))


def test_hlg_becomes_sdr_bt709_and_pq_is_tagged_as_it_is(tmp_path: Path) -> None:
    hlg = _h264(tmp_path / "hlg.avi", "1280x720", "colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc")
    pq = _h264(tmp_path / "pq.avi", "1280x720", "colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc")

    hlg_mp4, _, hlg_manifest = _convert(hlg, tmp_path / "hlg", KEEP)
    pq_mp4, _, pq_manifest = _convert(pq, tmp_path / "pq")
    pq_copied, _, pq_copied_manifest = _convert(pq, tmp_path / "pq-copied", KEEP)

    assert "tv, bt709, progressive" in stream_tags(hlg_mp4)
    assert hlg_manifest["picture"]["colour"]["note"].startswith("HLG shown as SDR BT.709")
    assert hlg_manifest["picture"]["video"] == "encoded" and "colours to convert" in hlg_manifest["picture"]["copy"]
    assert "tv, bt2020nc/bt2020/smpte2084, progressive" in stream_tags(pq_mp4)
    assert pq_manifest["picture"]["colour"]["note"].startswith("PQ (HDR10) kept and tagged as it is")
    # 8-bit 4:2:0 PQ H.264 needs nothing done: copied, with the tags it came with.
    assert "tv, bt2020nc/bt2020/smpte2084, progressive" in stream_tags(pq_copied)
    assert pq_copied_manifest["picture"]["video"] == "copied"
    # The gamut is converted: BT.2020's numbers read as BT.709 would be duller. A saturated red
    # stays a saturated red (the reference reads the source as BT.2020 with its own scaler).
    red = hlg_manifest["picture"]["colour"]
    assert red["primaries"] == "bt709" and red["transfer"] == "bt709"
