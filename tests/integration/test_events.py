"""Completion events, end to end on loopback: the function publishes to its EventBridge bus, a rule
(moto's) routes ``source: avi2mp4`` to an SQS queue, and the test reads them back as a consumer
would and holds their detail to the manifest. A duplicate S3 event publishes nothing new."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from avi2mp4.conversion.events import COMPLETED, FAILED, REJECTED, SOURCE
from devtools.readback import lavfi_video, make
from handler.app import ConversionFailed
from tests.avi_traps import zero_bytes
from tests.integration.stack import Stack


def _manifest(stack: Stack, key: str) -> dict[str, Any]:
    body = stack.s3.get_object(Bucket=stack.settings.video_bucket, Key=key)["Body"].read()
    data: dict[str, Any] = json.loads(body)
    return data


def test_a_conversion_publishes_what_it_made(stack: Stack, tmp_path: Path) -> None:
    src = make(tmp_path / "cam 1.avi", *lavfi_video(3.0, src="testsrc2"), "-c:v", "mjpeg")
    event = stack.upload(src, "site/cam 1.avi")
    version = event["Records"][0]["s3"]["object"]["versionId"]

    stack.invoke(event)

    (published,) = stack.events()
    assert published["source"] == SOURCE and published["detail-type"] == COMPLETED
    detail = published["detail"]
    video, image = stack.settings.video_bucket, stack.settings.image_bucket
    manifest = _manifest(stack, "site/cam 1.manifest.json")
    etag, size = event["Records"][0]["s3"]["object"]["eTag"], src.stat().st_size
    assert detail["source"] == {"bucket": stack.source, "key": "site/cam 1.avi", "version_id": version,
                                "etag": etag, "size": size}  # fmt: skip
    assert detail["manifest"] == f"s3://{video}/site/cam 1.manifest.json"
    assert [c["location"] for c in detail["clips"]] == [c["location"] for c in manifest["clips"]]
    assert [c["sha256"] for c in detail["clips"]] == [c["sha256"] for c in manifest["clips"]]
    assert detail["clip_count"] == len(manifest["clips"]) == 3
    assert detail["jpegs"] == {"folder": f"s3://{image}/site/cam 1/", "count": len(manifest["frames"])}
    assert detail["review_sheets"] == [r["location"] for r in manifest["review_sheets"]]
    assert detail["duration_seconds"] == manifest["source"]["duration_seconds"]
    assert detail["frames_decoded"] == manifest["source"]["frames_decoded"]
    assert detail["dead_frames"] == dict(Counter(d["reason"] for d in manifest["dead_frames"]))
    assert detail["path"] == "one_pass" and detail["source_deleted"] is True

    stack.invoke(event)  # S3 delivers twice: answered from the idempotency record
    assert stack.events() == []


def test_a_rejection_publishes_why_and_where_it_is_recorded(stack: Stack, tmp_path: Path) -> None:
    event = stack.upload(zero_bytes(tmp_path), "in/empty.avi")

    stack.invoke(event)

    (published,) = stack.events()
    assert published["detail-type"] == REJECTED
    detail = published["detail"]
    assert detail["error"] == "EmptyFile" and detail["source_kept"] is True and detail["reason"]
    assert detail["record"] == f"s3://{stack.settings.video_bucket}/in/empty.rejected.json"
    assert stack.exists(stack.source, "in/empty.avi")


def test_a_failure_publishes_that_the_source_is_kept(stack: Stack, tmp_path: Path) -> None:
    src = make(tmp_path / "a.avi", *lavfi_video(0.5), "-c:v", "mjpeg")
    event = stack.upload(src, "a.avi")
    stack.s3.delete_bucket(Bucket=stack.settings.image_bucket)  # the outputs cannot be stored: a retry may help

    with pytest.raises(ConversionFailed):  # the function fails the invocation, so that Lambda retries it
        stack.invoke(event)

    (published,) = stack.events()
    assert published["detail-type"] == FAILED
    assert published["detail"]["source"]["key"] == "a.avi" and published["detail"]["source_kept"] is True
    assert published["detail"]["error"] and published["detail"]["reason"]
    assert stack.exists(stack.source, "a.avi")
