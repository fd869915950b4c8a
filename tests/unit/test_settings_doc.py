"""Each setting is defined once; the README's tables, the CLI flags and the environment reader all
come from that definition, and this fails when one of them drifts."""

from __future__ import annotations

import pytest

from avi2mp4.cli.main import build_parser
from avi2mp4.errors import ConfigError
from avi2mp4.settings import DeadFrameThresholds, PipelineConfig, entries, read_env
from devtools.settings_doc import README, render


def test_readme_tables_match_the_definitions() -> None:
    text = README.read_text()
    assert render(text) == text, "run `python -m devtools.settings_doc --write`"


def test_every_setting_reaches_the_environment_and_the_cli() -> None:
    env = {e.spec.env: "7" for e in entries(PipelineConfig) if e.type_name in ("int", "float")}
    cfg = read_env({**env, "SPLIT_AFTER_SECONDS": "7", "CLIP_SECONDS": "7", "MIN_CHANGE": "0.5"})
    assert cfg.frame_step == 7 and cfg.jpeg_quality == 7 and cfg.x264_crf == 7
    assert cfg.min_sharpness == 7 and cfg.min_change == 0.5
    args = vars(build_parser().parse_args(["convert", "in.avi", "--out", "out"]))
    assert {e.name for e in entries(PipelineConfig) if e.spec.flag} <= set(args)


@pytest.mark.parametrize("entry", list(entries(DeadFrameThresholds)), ids=lambda e: e.name)
def test_a_bad_threshold_names_its_variable(entry: object) -> None:
    with pytest.raises(ConfigError, match=entry.spec.env):  # type: ignore[attr-defined]
        read_env({entry.spec.env: "-1"})  # type: ignore[attr-defined]
