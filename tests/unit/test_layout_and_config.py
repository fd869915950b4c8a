from __future__ import annotations

import io

import pytest

from avi2mp4.cli.progress import ProgressBar
from avi2mp4.errors import ConfigError
from avi2mp4.outputs.names import OutputLayout, is_avi
from avi2mp4.pipeline import Progress
from avi2mp4.settings import PipelineConfig


@pytest.mark.parametrize(
    ("key", "prefix", "stem"),
    [
        ("cams/site 1/rec-001.avi", "cams/site 1/", "rec-001"),
        ("rec.AVI", "", "rec"),
        ("a/b.c/d.e.avi", "a/b.c/", "d.e"),
        ("ünï cødé/ça va.Avi", "ünï cødé/", "ça va"),
    ],
)
def test_layout_keeps_prefix_and_drops_extension(key: str, prefix: str, stem: str) -> None:
    layout = OutputLayout.for_key(key)
    assert (layout.prefix, layout.stem) == (prefix, stem)
    assert layout.key(f"{stem}.mp4") == f"{prefix}{stem}.mp4"
    assert layout.manifest_key == f"{prefix}{stem}.manifest.json"


@pytest.mark.parametrize(("key", "avi"), [("a.avi", True), ("a.AVI", True), ("b/a.aVi", True),
                                          ("a.mp4", False), ("avi", False), (".avi", False),
                                          ("a.avi.txt", False)])  # fmt: skip
def test_is_avi_in_any_case(key: str, avi: bool) -> None:
    assert is_avi(key) is avi


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"clip_seconds": 0}, "clip_seconds"),
        ({"split_after_seconds": 60}, "split_after_seconds"),
        ({"frame_step": 0}, "frame_step"),
        ({"jpeg_quality": 101}, "jpeg_quality"),
        ({"x264_preset": "warp"}, "x264_preset"),
        ({"x264_crf": 52}, "x264_crf"),
    ],
)
def test_bad_settings_name_the_setting(changes: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        PipelineConfig(**changes)  # type: ignore[arg-type]


def test_progress_bar_shows_file_share_eta_and_speed_in_place() -> None:
    out = io.StringIO()
    bar = ProgressBar("rec.avi", out, position=(3, 12), width=80, refresh_seconds=0)
    bar(Progress(frames=750, seconds=30.0, expected_seconds=120.0))
    bar(Progress(frames=1500, seconds=60.0, expected_seconds=120.0))
    drawn = out.getvalue()
    last = drawn.split("\r")[-1]
    assert last.startswith("rec.avi (3/12)  50%|") and "60/120 s [" in last and "<" in last and "x real time]" in last
    assert "\n" not in drawn, "redrawn in place, never a new line"
    assert all(len(line.rstrip()) <= 80 for line in drawn.split("\r")), "never wider than the terminal"
    bar.clear()


def test_the_read_back_levels_are_the_ones_the_setting_offers() -> None:
    """settings may not import media (import rules), so the names are written twice: keep them equal."""
    from typing import get_args

    from avi2mp4.media.readback import Pictures
    from avi2mp4.settings import VERIFY_PICTURES

    assert get_args(Pictures) == VERIFY_PICTURES
