from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.data_classes import S3Event

from avi2mp4.errors import ConfigError, InsufficientStorage
from avi2mp4.storage.s3_source import require_space
from handler.objects import ObjectRef
from handler.settings import Settings
from handler.tasks import skip_reason
from tests.events import EVENTS, load_event

EXPECTED_KEYS = {
    "put.json": ["cams/site1/rec-001.avi"],
    "multipart.json": ["cams/site1/long-rec-002.avi"],
    "key-with-spaces-and-unicode.json": ["cams/site 1/rec ünï+plus.avi"],
    "uppercase-extension.json": ["CAMS/REC-003.AVI"],
    "not-avi.json": ["cams/site1/notes.txt"],
    "two-records.json": ["cams/a.avi", "cams/b.avi"],
}
SETTINGS = Settings.from_env({"IDEMPOTENCY_TABLE": "t"})


def test_every_sample_event_is_covered() -> None:
    assert sorted(p.name for p in EVENTS.glob("*.json")) == sorted(EXPECTED_KEYS)


@pytest.mark.parametrize("name", sorted(EXPECTED_KEYS))
def test_sample_events_decode_to_their_keys(name: str) -> None:
    refs = [ObjectRef.from_record(r) for r in S3Event(load_event(name)).records]
    assert [r.key for r in refs] == EXPECTED_KEYS[name]
    for ref in refs:
        assert ref.identity == f"{ref.bucket}/{ref.key}#{ref.sequencer}"
        expected_skip = None if ref.key.lower().endswith(".avi") else "not an .avi key"
        assert skip_reason(ref.bucket, ref.key, SETTINGS) == expected_skip


def test_identity_prefers_version_then_sequencer_then_etag() -> None:
    event = load_event("put.json")
    obj = event["Records"][0]["s3"]["object"]
    obj["versionId"] = "v42"
    assert ObjectRef.from_record(next(S3Event(event).records)).identity.endswith("#v42")
    del obj["versionId"], obj["sequencer"]
    assert ObjectRef.from_record(next(S3Event(event).records)).identity.endswith(f"#{obj['eTag']}")


def test_settings_defaults() -> None:
    s = Settings.from_env({"IDEMPOTENCY_TABLE": "idem"})
    assert (s.video_bucket, s.image_bucket, s.tmp_dir) == ("video-mp4", "unlabeled-images", Path("/tmp"))
    assert s.pipeline.clip_seconds == 120 and s.pipeline.split_after_seconds == 240
    assert s.pipeline.frame_step == 10 and s.pipeline.dead_frame_filter is True


def test_settings_parse_every_variable() -> None:
    s = Settings.from_env({
        "IDEMPOTENCY_TABLE": "idem", "VIDEO_BUCKET": "v", "IMAGE_BUCKET": "i", "CLIP_SECONDS": "60",
        "SPLIT_AFTER_SECONDS": "90", "FRAME_STEP": "5", "DEAD_FRAME_FILTER": "false", "JPEG_QUALITY": "80",
        "X264_PRESET": "fast", "X264_CRF": "20", "IDEMPOTENCY_TTL_SECONDS": "7200", "TMP_DIR": "/scratch",
    })  # fmt: skip
    p = s.pipeline
    assert (p.clip_seconds, p.split_after_seconds, p.frame_step, p.dead_frame_filter) == (60, 90, 5, False)
    assert (p.jpeg_quality, p.x264_preset, p.x264_crf) == (80, "fast", 20)
    assert (s.video_bucket, s.image_bucket, s.idempotency_ttl_seconds) == ("v", "i", 7200)
    dead = Settings.from_env({"IDEMPOTENCY_TABLE": "t", "DEAD_BLACK_SHARE": "0.9", "DEAD_REPEAT_DIFF": "0.001"})
    assert dead.pipeline.dead_thresholds.black_share == 0.9
    assert dead.pipeline.dead_thresholds.repeat_diff == 0.001


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "IDEMPOTENCY_TABLE"),
        ({"FRAME_STEP": "ten"}, "FRAME_STEP"),
        ({"FRAME_STEP": "0"}, "FRAME_STEP"),
        ({"CLIP_SECONDS": "-1"}, "CLIP_SECONDS"),
        ({"SPLIT_AFTER_SECONDS": "10"}, "SPLIT_AFTER_SECONDS"),
        ({"X264_PRESET": "ludicrous"}, "X264_PRESET"),
        ({"X264_CRF": "99"}, "X264_CRF"),
        ({"DEAD_FRAME_FILTER": "maybe"}, "DEAD_FRAME_FILTER"),
        ({"JPEG_QUALITY": "100"}, "JPEG_QUALITY"),
        ({"VIDEO_BUCKET": "same", "IMAGE_BUCKET": "same"}, "VIDEO_BUCKET"),
        ({"DEAD_BLACK_SHARE": "1.5"}, "DEAD_BLACK_SHARE"),
        ({"DEAD_BLANK_SPREAD": "flat"}, "DEAD_BLANK_SPREAD"),
    ],
)
def test_bad_settings_name_their_variable(env: dict[str, str], variable: str) -> None:
    base = {} if variable == "IDEMPOTENCY_TABLE" else {"IDEMPOTENCY_TABLE": "idem"}
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({**base, **env})


def test_tmp_space_is_checked_before_download(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    require_space(tmp_path, 1000)
    with pytest.raises(InsufficientStorage, match="EphemeralStorage"):
        require_space(tmp_path, free)
