"""Interlaced sources are deinterlaced, once, for the MP4, the JPEGs and the judge alike; progressive
ones are never touched. Sources are generated: a 50 fps progressive picture woven into 25 fps
interlaced frames (FFmpeg's ``interlace``), moving, in codecs that flag it (DV, MPEG-4 with
interlaced DCT) and codecs that do not (MJPEG, raw)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avi2mp4.media.interlace import CombMeter
from avi2mp4.media.picture_setup import decide_setup
from avi2mp4.settings import PipelineConfig
from avi2mp4.storage.local import LocalStore
from avi2mp4.storage.port import SourceRef
from devtools.readback import gray_frames, make
from tests.local_job import convert_with_jobs, run_local_job

CFG = PipelineConfig(dead_frame_filter=False, review_sheet=False)
PAN = "testsrc2=size=1440x576:rate={rate},crop=720:576:mod(n*{step}\\,720):0"
INTERLACED = {
    "pan_mjpeg": ([PAN.format(rate=50, step=19) + ",interlace=scan=tff"], ["-c:v", "mjpeg", "-q:v", "4"]),
    "testsrc2_raw_bff": (["testsrc2=size=720x576:rate=50,interlace=scan=bff"],
                         ["-c:v", "rawvideo", "-pix_fmt", "yuv420p"]),
    "mandelbrot_mjpeg": (["mandelbrot=size=720x576:rate=50,interlace=scan=tff"], ["-c:v", "mjpeg", "-q:v", "4"]),
    "noisy_1080_mjpeg": (["testsrc2=size=1920x1080:rate=50,interlace=scan=tff,noise=alls=20:allf=t"],
                         ["-c:v", "mjpeg", "-q:v", "4"]),
    "dv": ([PAN.format(rate=50, step=19) + ",interlace=scan=bff"], ["-c:v", "dvvideo", "-pix_fmt", "yuv420p"]),
    "mpeg4_ildct": ([PAN.format(rate=50, step=19) + ",interlace=scan=tff"],
                    ["-c:v", "mpeg4", "-flags", "+ildct+ilme", "-q:v", "3"]),
}  # fmt: skip
PROGRESSIVE = {
    "testsrc2": "testsrc2=size=720x576:rate=25",
    "pan": PAN.format(rate=25, step=37),
    "mandelbrot": "mandelbrot=size=720x576:rate=25",
    "noise": "nullsrc=size=720x576:rate=25,geq=random(1)*255:128:128",
    "life": "life=size=720x576:rate=25:mold=10:ratio=0.5",
    "zoneplate": "zoneplate=size=720x576:rate=25:ku=256:kv=256:kt2=4",
    "stripes_chart": "color=c=gray:size=720x576:rate=25,geq=lum='if(mod(Y\\,2)\\,200\\,40)':cb=128:cr=128",
    "hd_testsrc2": "testsrc2=size=1920x1080:rate=25",
}  # fmt: skip


def interlaced(tmp_path: Path, name: str, seconds: float = 1.2) -> Path:
    (graph,), codec = INTERLACED[name]
    return make(tmp_path / f"{name}.avi", "-f", "lavfi", "-i", graph, "-t", str(seconds), "-r", "25", *codec)


def progressive(tmp_path: Path, name: str) -> Path:
    return make(tmp_path / f"{name}.avi", "-f", "lavfi", "-i", PROGRESSIVE[name], "-t", "1.2", "-c:v", "rawvideo",
                "-pix_fmt", "yuv420p")  # fmt: skip


def combing(frames: np.ndarray) -> float:
    """The median combing of decoded luma frames, as the detector measures it (percent of pixels)."""
    meter = CombMeter()
    for frame in frames:
        meter.feed(frame)
    return float(np.median(meter.scores)) if meter.scores else 0.0


@pytest.mark.parametrize("name", sorted(INTERLACED))
def test_interlaced_sources_are_found(name: str, tmp_path: Path) -> None:
    setup = decide_setup(interlaced(tmp_path, name), name, CFG)

    assert setup is not None and setup.interlace.deinterlace, setup
    if name == "dv":
        assert setup.interlace.how.startswith("codec dvvideo")
    if name in ("pan_mjpeg", "testsrc2_raw_bff", "mandelbrot_mjpeg"):  # nothing flags these: measured
        assert setup.interlace.how.startswith("combing measured")
        assert setup.interlace.parity == ("bff" if name.endswith("bff") else "tff")


@pytest.mark.parametrize("name", sorted(PROGRESSIVE))
def test_progressive_sources_are_never_deinterlaced(name: str, tmp_path: Path) -> None:
    setup = decide_setup(progressive(tmp_path, name), name, CFG)

    assert setup is not None
    assert not setup.interlace.deinterlace, setup.interlace


def test_the_mp4_and_the_jpegs_lose_their_combing(tmp_path: Path) -> None:
    src = interlaced(tmp_path, "pan_mjpeg")
    before = combing(gray_frames(src, 720, 576))

    job = run_local_job(src, tmp_path / "out", CFG)

    mp4 = Path(job.clips[0].location)
    after = combing(gray_frames(mp4, 720, 576))
    manifest = json.loads(Path(job.manifest_object.location).read_text())
    assert manifest["picture"]["deinterlaced"] is True
    assert manifest["source"]["frames_decoded"] == len(gray_frames(src, 720, 576)) == 30, "one frame per frame"
    assert [f["frame_index"] for f in manifest["frames"]] == [0, 10, 20]
    jpegs = np.stack([np.asarray(Image.open(i.location).convert("L")) for i in job.images])
    assert before > 5 and after < 0.2, (before, after)
    # The JPEGs are deinterlaced too: frame 10's rows no longer alternate where the picture moves.
    assert (
        combing(np.stack([gray_frames(src, 720, 576)[9], jpegs[1]])) < 0.2 < combing(gray_frames(src, 720, 576)[9:11])
    )


def test_settings_can_force_either_way(tmp_path: Path) -> None:
    src = interlaced(tmp_path, "pan_mjpeg", 0.4)
    off = run_local_job(src, tmp_path / "off", PipelineConfig(dead_frame_filter=False, deinterlace="off"))
    on = run_local_job(progressive(tmp_path, "testsrc2"), tmp_path / "on",
                       PipelineConfig(dead_frame_filter=False, deinterlace="on"))  # fmt: skip

    for job, expected, how in ((off, False, "DEINTERLACE=off"), (on, True, "DEINTERLACE=on")):
        picture = json.loads(Path(job.manifest_object.location).read_text())["picture"]
        assert picture["deinterlaced"] is expected and picture["interlace"] == how


def test_a_progressive_source_converts_as_it_did(tmp_path: Path) -> None:
    """Never touched: the MP4's pictures are those of a conversion with deinterlacing off."""
    src = progressive(tmp_path, "pan")
    auto = run_local_job(src, tmp_path / "auto", CFG)
    off = run_local_job(src, tmp_path / "off", PipelineConfig(dead_frame_filter=False, review_sheet=False,
                                                             deinterlace="off"))  # fmt: skip

    def pictures(job: object) -> str:
        return hashlib.sha256(gray_frames(Path(job.clips[0].location), 720, 576).tobytes()).hexdigest()  # type: ignore[attr-defined]

    assert pictures(auto) == pictures(off)


def test_clip_jobs_deinterlace_as_one_pass_does(tmp_path: Path) -> None:
    src = interlaced(tmp_path, "pan_mjpeg", 3.2)
    cfg = PipelineConfig(dead_frame_filter=False, review_sheet=False, clip_seconds=1.0, split_after_seconds=2.0)
    source = SourceRef(key="rec.avi", size=src.stat().st_size)

    one = run_local_job(src, tmp_path / "one", cfg, key="rec.avi")
    jobs = convert_with_jobs(src, source, LocalStore(tmp_path / "jobs"), cfg, 2)

    manifests = [json.loads(Path(j.manifest_object.location).read_text()) for j in (one, jobs)]
    assert manifests[1]["conversion"]["path"] == "parallel"
    assert manifests[0]["picture"] == manifests[1]["picture"] and manifests[1]["picture"]["deinterlaced"]
    assert [f["frame_index"] for f in manifests[0]["frames"]] == [f["frame_index"] for f in manifests[1]["frames"]]
    for clip in jobs.clips:
        assert combing(gray_frames(Path(clip.location), 720, 576)) < 0.2
