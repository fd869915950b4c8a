"""The Lambda handler against a real S3 + DynamoDB API (moto server over HTTP on loopback)."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from devtools.readback import lavfi_audio, lavfi_video, make, read_back
from handler.app import ConversionFailed
from tests.integration.stack import Stack, make_stack


@pytest.fixture(scope="module")
def avi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s MJPEG + PCM: three 1 s clips and 8 JPEGs at the test stack's settings."""
    d = tmp_path_factory.mktemp("lambda-media")
    return make(d / "rec.avi", *lavfi_video(3.0), *lavfi_audio(3.0), "-c:v", "mjpeg", "-c:a", "pcm_s16le")


EXPECTED_VIDEO = (["cams/rec.manifest.json"] + [f"cams/rec_part{i:03d}.mp4" for i in range(3)]
                  + [f"cams/rec_review{i:03d}.jpg" for i in range(3)])  # fmt: skip
EXPECTED_IMAGES = sorted([f"cams/rec/rec_f{i:06d}.jpg" for i in range(0, 75, 10)]
                         + ["cams/rec/label-studio-tasks.json", "cams/rec/manifest.jsonl"])  # fmt: skip


def test_upload_converts_verifies_and_deletes_source(stack: Stack, avi: Path, tmp_path: Path) -> None:
    event = stack.upload(avi, "cams/rec.avi", "ObjectCreated:CompleteMultipartUpload")

    result = stack.invoke(event)

    (done,) = result["done"]
    assert done["status"] == "converted" and done["source_deleted"] is True
    assert stack.keys(stack.settings.video_bucket) == EXPECTED_VIDEO
    assert stack.keys(stack.settings.image_bucket) == EXPECTED_IMAGES
    assert not stack.exists(stack.source, "cams/rec.avi")
    manifest = json.loads(stack.s3.get_object(Bucket=stack.settings.video_bucket,
                                              Key="cams/rec.manifest.json")["Body"].read())  # fmt: skip
    assert manifest["source"]["bucket"] == stack.source and manifest["source"]["frames_decoded"] == 75
    assert manifest["source"]["version_id"]
    # What S3 holds is what the manifest promises, and it plays.
    clip = manifest["clips"][1]
    local = tmp_path / "part001.mp4"
    stack.s3.download_file(stack.settings.video_bucket, clip["key"], str(local))
    assert local.stat().st_size == clip["bytes"]
    back = read_back(local)
    assert back.errors == "" and back.count == 25 and "aac" in (back.audio_line() or "")
    assert not list(stack.settings.tmp_dir.iterdir()), "/tmp is emptied after the job"


def test_duplicate_event_does_no_work(stack: Stack, avi: Path) -> None:
    event = stack.upload(avi, "cams/rec.avi")
    first = stack.invoke(event)
    calls: list[str] = []
    stack.s3.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))

    second = stack.invoke(event)

    assert second == first
    assert calls == [], f"a duplicate touched S3: {calls}"
    assert stack.keys(stack.settings.video_bucket) == EXPECTED_VIDEO


def test_late_duplicate_after_expiry_finds_source_gone(aws: Any, avi: Path, tmp_path: Path) -> None:
    stack = make_stack(aws, tmp_path)
    event = stack.upload(avi, "late.avi")
    stack.invoke(event)
    fresh = make_stack(aws, tmp_path / "again", source=stack.source)  # another table: the record has "expired"

    result = fresh.invoke(event)

    assert result["done"][0]["status"] == "gone"


def test_ten_objects_in_one_event(stack: Stack, tmp_path: Path) -> None:
    small = make(tmp_path / "s.avi", *lavfi_video(0.4), "-c:v", "mjpeg")
    records = []
    for i in range(10):
        records += stack.upload(small, f"batch/cam{i}.avi")["Records"]

    result = stack.invoke({"Records": records})

    assert len(result["done"]) == 10
    assert stack.keys(stack.settings.video_bucket) == sorted(
        [f"batch/cam{i}{suffix}" for i in range(10) for suffix in (".mp4", ".manifest.json", ".review.jpg")]
    )
    assert stack.keys(stack.source) == []


@pytest.mark.parametrize("key", ["site 1/a+b ünï cødé.avi", "UPPER/REC.AVI", "mixed.Avi"])
def test_encoded_and_uppercase_keys(stack: Stack, tmp_path: Path, key: str) -> None:
    small = make(tmp_path / "s.avi", *lavfi_video(0.4), "-c:v", "mjpeg")
    event = stack.upload(small, key)
    assert event["Records"][0]["s3"]["object"]["key"] != key or " " not in key  # arrives encoded

    stack.invoke(event)

    stem = key.rsplit(".", 1)[0]
    assert stack.keys(stack.settings.video_bucket) == sorted(
        [f"{stem}.mp4", f"{stem}.manifest.json", f"{stem}.review.jpg"]
    )
    name = stem.rsplit("/", 1)[-1]
    assert f"{stem}/{name}_f000000.jpg" in stack.keys(stack.settings.image_bucket)


def test_non_avi_key_is_skipped_and_kept(stack: Stack, tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    event = stack.upload(other, "docs/notes.txt")

    result = stack.invoke(event)

    assert result["done"] == [] and result["skipped"][0]["reason"] == "not an .avi key"
    assert stack.exists(stack.source, "docs/notes.txt")


def test_event_from_an_output_bucket_is_refused(stack: Stack, avi: Path) -> None:
    event = stack.upload(avi, "x.avi")
    event["Records"][0]["s3"]["bucket"]["name"] = stack.settings.video_bucket

    result = stack.invoke(event)

    assert "output bucket" in result["skipped"][0]["reason"]
    assert stack.keys(stack.settings.video_bucket) == []


def test_corrupt_avi_is_rejected_not_retried_and_its_source_kept(stack: Stack, tmp_path: Path) -> None:
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST" + b"\x00" * 500)
    event = stack.upload(bad, "cams/bad.avi")

    result = stack.invoke(event)  # no exception: Lambda must not retry what cannot succeed

    (rejected,) = result["rejected"]
    assert rejected["status"] == "rejected"
    assert re.match(r"(UnreadableVideo|NoVideoStream|NoDecodableFrames): ", rejected["reason"])
    assert stack.exists(stack.source, "cams/bad.avi")
    tags = stack.s3.get_object_tagging(Bucket=stack.source, Key="cams/bad.avi")["TagSet"]
    assert tags == [{"Key": "avi2mp4-rejected", "Value": rejected["reason"].split(":")[0]}]
    assert stack.keys(stack.settings.video_bucket) == ["cams/bad.rejected.json"]
    record = json.loads(
        stack.s3.get_object(Bucket=stack.settings.video_bucket, Key="cams/bad.rejected.json")["Body"].read()
    )
    assert record["source"]["key"] == "cams/bad.avi" and record["reason"] in rejected["reason"]
    assert stack.keys(stack.settings.image_bucket) == []
    assert stack.invoke(event)["rejected"] == [rejected], "a duplicate is answered from the idempotency record"


def test_upload_failure_keeps_source_and_retry_completes_cleanly(aws: Any, avi: Path, tmp_path: Path) -> None:
    s3 = aws.s3()
    puts = {"n": 0}

    def fail_fifth_put(model: Any, **_: Any) -> None:
        if model.name == "PutObject":
            puts["n"] += 1
            if puts["n"] == 5:
                raise EndpointConnectionError(endpoint_url="http://injected-failure")

    s3.meta.events.register("before-call.s3", fail_fifth_put)
    stack = make_stack(aws, tmp_path, s3=s3)  # default settings: one 3 s clip, 8 JPEGs
    event = stack.upload(avi, "cams/rec.avi")

    with pytest.raises(ConversionFailed, match="StorageError"):
        stack.invoke(event)

    assert stack.exists(stack.source, "cams/rec.avi"), "the source survives a failed upload"
    assert "cams/rec.manifest.json" not in stack.keys(stack.settings.video_bucket)
    assert stack.keys(stack.settings.image_bucket) == [], "no orphans: partial outputs are removed"

    result = stack.invoke(event)  # the async retry

    assert result["done"][0]["status"] == "converted"
    assert stack.keys(stack.settings.video_bucket) == ["cams/rec.manifest.json", "cams/rec.mp4", "cams/rec.review.jpg"]
    assert stack.keys(stack.settings.image_bucket) == EXPECTED_IMAGES
    assert not stack.exists(stack.source, "cams/rec.avi")


def test_event_for_a_replaced_version_leaves_the_new_upload_alone(stack: Stack, avi: Path, tmp_path: Path) -> None:
    old_event = stack.upload(avi, "cams/rec.avi")
    small = make(tmp_path / "s.avi", *lavfi_video(0.4), "-c:v", "mjpeg")
    stack.upload(small, "cams/rec.avi")  # the user re-uploads before the first event is handled

    result = stack.invoke(old_event)

    assert result["done"][0]["status"] == "superseded"
    assert stack.exists(stack.source, "cams/rec.avi")
    assert stack.keys(stack.settings.video_bucket) == []


def test_concurrent_duplicate_waits_for_the_first(aws: Any, avi: Path, tmp_path: Path) -> None:
    s3 = aws.s3()
    downloading, release = threading.Event(), threading.Event()

    def hold_first_download(model: Any, **_: Any) -> None:
        if model.name == "GetObject" and not downloading.is_set():
            downloading.set()
            release.wait(timeout=60)

    s3.meta.events.register("before-call.s3", hold_first_download)
    stack = make_stack(aws, tmp_path, s3=s3)
    event = stack.upload(avi, "cams/rec.avi")
    first: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: first.update(stack.invoke(event)))
    worker.start()
    assert downloading.wait(timeout=60)

    with pytest.raises(ConversionFailed, match="in progress elsewhere"):
        stack.invoke(event)  # the same event, delivered again while the first is converting

    release.set()
    worker.join(timeout=120)
    assert first["done"][0]["status"] == "converted"
    assert stack.invoke(event) == first, "the retry gets the first delivery's result"
    assert stack.keys(stack.settings.video_bucket) == ["cams/rec.manifest.json", "cams/rec.mp4", "cams/rec.review.jpg"]


def test_an_upload_landing_between_the_check_and_the_delete_stays_current(
    stack: Stack, avi: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delete is conditional on the converted object's ETag: a re-upload in the window between
    the last check and the delete is not hidden behind a delete marker."""
    from avi2mp4.storage import s3 as s3_module

    event = stack.upload(avi, "cams/rec.avi")
    newer = make(tmp_path / "newer.avi", *lavfi_video(0.4), "-c:v", "mjpeg")
    real_head, real_delete = s3_module.head_source, s3_module.delete_source
    deleting = threading.Event()

    def head(client: Any, bucket: str, key: str) -> Any:
        found = real_head(client, bucket, key)
        if deleting.is_set():
            stack.s3.upload_file(str(newer), bucket, key)  # lands right after the last check
        return found

    def delete(client: Any, src: Any) -> bool:
        deleting.set()
        return real_delete(client, src)

    monkeypatch.setattr(s3_module, "head_source", head)
    monkeypatch.setattr("avi2mp4.storage.s3_source.delete_source", delete)

    (done,) = stack.invoke(event)["done"]

    assert done["status"] == "converted" and done["source_deleted"] is False
    head_now = stack.s3.head_object(Bucket=stack.source, Key="cams/rec.avi")
    assert head_now["ContentLength"] == newer.stat().st_size, "the newer upload is current, not hidden"
