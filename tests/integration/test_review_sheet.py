"""Review sheets: every sampled frame as a thumbnail, in order, dropped ones dimmed with their
reason; one page per 120 s segment, named in the manifest; a setting turns them off."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from avi2mp4.labeling.review_sheet import COLUMNS, LABEL_HEIGHT, MAX_PAGE_HEIGHT, Layout, Page, mark
from avi2mp4.settings import PipelineConfig
from devtools.deadframe_truth import write_truth_clip
from devtools.readback import lavfi_video, make
from tests.local_job import run_local_job


def tile(sheet: Image.Image, layout: Layout, position: int) -> np.ndarray:
    x, y = layout.origin(position)
    return np.asarray(sheet.crop((x, y, x + layout.tile_width, y + layout.tile_height)).convert("L"), np.float32)


def test_one_page_shows_every_sampled_frame_and_dims_the_dropped_ones(tmp_path: Path) -> None:
    clip = write_truth_clip(tmp_path, "mjpeg")

    job = run_local_job(clip.path, tmp_path / "out")

    manifest = json.loads(Path(job.manifest_object.location).read_text())
    (page,) = manifest["review_sheets"]
    assert page["key"] == f"{clip.path.stem}.review.jpg"
    sheet = Image.open(page["location"])
    sampled = sorted(
        [f["frame_index"] for f in manifest["frames"]] + [d["frame_index"] for d in manifest["dead_frames"]]
    )
    layout = Layout.for_frame(320, 240)
    rows = -(-len(sampled) // COLUMNS)
    assert sheet.size == (COLUMNS * layout.tile_width, rows * (layout.tile_height + LABEL_HEIGHT))
    frozen = [d["frame_index"] for d in manifest["dead_frames"] if d["reason"] == "frozen"]
    first_frozen = sampled.index(frozen[0])
    kept_before = tile(sheet, layout, first_frozen - 1)  # the same picture, kept (the freeze's first frame)
    dimmed = tile(sheet, layout, first_frozen)
    assert dimmed.mean() < 0.5 * kept_before.mean(), (dimmed.mean(), kept_before.mean())
    assert np.abs(tile(sheet, layout, 0) - 24).mean() > 20, "a kept tile shows its picture"


def test_a_split_video_has_a_page_per_clip_and_the_setting_turns_them_off(tmp_path: Path) -> None:
    src = make(tmp_path / "long.avi", *lavfi_video(5.0), "-c:v", "mjpeg")
    cfg = PipelineConfig(clip_seconds=2.0, split_after_seconds=2.0)

    split = run_local_job(src, tmp_path / "split", cfg)
    off = run_local_job(src, tmp_path / "off", PipelineConfig(review_sheet=False))

    pages = json.loads(Path(split.manifest_object.location).read_text())["review_sheets"]
    assert [p["key"] for p in pages] == ["long_review000.jpg", "long_review001.jpg", "long_review002.jpg"]
    assert [Image.open(p["location"]).size for p in pages] == [(COLUMNS * 96, 72 + LABEL_HEIGHT)] * 3  # 5, 5, 3 tiles
    assert json.loads(Path(off.manifest_object.location).read_text())["review_sheets"] == []
    assert not list((tmp_path / "off").rglob("*review*"))


def test_finish_can_dim_a_tile_after_the_page_was_drawn() -> None:
    layout = Layout.for_frame(320, 240)
    bright = Image.new("RGB", (layout.tile_width, layout.tile_height), (220, 200, 180))
    page = Page(0, [(0, bright, None), (10, bright, None), (20, bright, None)]).render(layout)

    marked = Image.open(io.BytesIO(mark(page, layout, {1: "near_duplicate"})))

    assert tile(marked, layout, 0).mean() > 180
    assert tile(marked, layout, 1).mean() < 0.5 * tile(marked, layout, 0).mean()
    assert tile(marked, layout, 2).mean() > 180


def test_a_page_of_very_many_tiles_grows_wide_not_taller_than_a_jpeg_can_be() -> None:
    layout = Layout.for_frame(320, 240)
    tile_image = Image.new("RGB", (layout.tile_width, layout.tile_height), (200, 200, 200))
    tiles = 14_400  # 120 s of 120 fps video with every frame sampled

    wide = layout.for_tiles(tiles)

    width, height = wide.page_size(tiles)
    assert height <= MAX_PAGE_HEIGHT < 65_535 and width < 65_535
    assert wide.columns > COLUMNS and layout.for_tiles(360).columns == COLUMNS
    page = Image.open(io.BytesIO(Page(0, [(i, tile_image, None) for i in range(400)]).render(layout)))
    assert page.size == layout.for_tiles(400).page_size(400)
