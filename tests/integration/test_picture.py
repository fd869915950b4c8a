"""The picture survives: colour range, JPEG sampling, orientation, size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avi2mp4.settings import PipelineConfig
from devtools.readback import make, read_back, rgb_frame
from devtools.synth import write_gray_levels
from tests.local_job import run_local_job


@pytest.mark.parametrize(("codec", "pix_fmt"), [("mjpeg", "yuvj422p"), ("mpeg4", "yuv420p")])
def test_colour_range_is_kept(codec: str, pix_fmt: str, tmp_path: Path) -> None:
    # Full-range MJPEG read as limited would turn 40 into ~28 and 220 into ~237.
    src = write_gray_levels(tmp_path / "range.avi", [40] * 5 + [220] * 5, codec=codec, pix_fmt=pix_fmt)

    job = run_local_job(src, tmp_path / "out", PipelineConfig(dead_frame_filter=False))

    mp4 = Path(job.clips[0].location)
    assert "yuv420p(tv" in read_back(mp4).video_line()
    assert rgb_frame(mp4, 64, 48, 0).mean() == pytest.approx(40, abs=4)
    assert rgb_frame(mp4, 64, 48, 7).mean() == pytest.approx(220, abs=4)
    jpeg = np.asarray(Image.open(job.images[0].location))
    assert jpeg.mean() == pytest.approx(40, abs=4)


def test_every_tenth_frame_becomes_a_named_jpeg(tmp_path: Path) -> None:
    src = make(tmp_path / "rec-001.avi", "-f", "lavfi", "-i", "testsrc=size=161x121:rate=25:duration=1.88",
               "-c:v", "rawvideo", "-pix_fmt", "bgr24")  # fmt: skip

    job = run_local_job(src, tmp_path / "out", PipelineConfig(dead_frame_filter=False), key="a/b/rec-001.avi")

    keys = [img.key for img in job.images]
    assert keys == [f"a/b/rec-001/rec-001_f{i:06d}.jpg" for i in range(0, 47, 10)]
    with Image.open(job.images[0].location) as im:
        assert im.format == "JPEG" and im.size == (161, 121)
    manifest = json.loads(Path(job.manifest_object.location).read_text())
    assert [f["frame_index"] for f in manifest["frames"]] == [0, 10, 20, 30, 40]
    assert manifest["frames"][1]["pts_seconds"] == pytest.approx(0.4)
    assert manifest["source"]["frames_decoded"] == 47
    assert manifest["source"]["codec"] == "rawvideo"


def test_bottom_up_raw_rgb_is_not_flipped(tmp_path: Path) -> None:
    # Top half white, bottom half black. Raw BGR24 in AVI is stored bottom-up.
    src = make(tmp_path / "updown.avi", "-f", "lavfi", "-i",
               "color=c=black:size=64x48:rate=25:duration=0.4,drawbox=x=0:y=0:w=64:h=24:c=white:t=fill",
               "-c:v", "rawvideo", "-pix_fmt", "bgr24")  # fmt: skip

    job = run_local_job(src, tmp_path / "out", PipelineConfig(dead_frame_filter=False))

    frame = rgb_frame(Path(job.clips[0].location), 64, 48)
    assert frame[:20].mean() > 200 and frame[28:].mean() < 50
    jpeg = np.asarray(Image.open(job.images[0].location))
    assert jpeg[:20].mean() > 200 and jpeg[28:].mean() < 50
