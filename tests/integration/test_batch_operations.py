"""S3 Batch Operations invocations (the large-scale backfill over an inventory): real-shaped events
of schema 1.0 and 2.0, answered per task as the job's report expects them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devtools.local_aws import LocalAws, local_context
from devtools.readback import lavfi_video, make
from handler.app import handle_event
from tests.events import EVENTS
from tests.integration.stack import Stack, make_stack


def batch_event(schema: str, bucket: str, key_encoded: str, version: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "batch-operations" / f"schema-{schema}.json").read_text())
    task = event["tasks"][0]
    task["s3Key"], task["s3VersionId"] = key_encoded, version
    if schema == "1.0":
        task["s3BucketArn"] = f"arn:aws:s3:::{bucket}"
    else:
        task["s3Bucket"] = bucket
    return event


@pytest.mark.parametrize("schema", ["1.0", "2.0"])
def test_each_task_is_answered(schema: str, aws: LocalAws, tmp_path: Path) -> None:
    stack: Stack = make_stack(aws, tmp_path)
    good = make(tmp_path / "good.avi", *lavfi_video(0.4), "-c:v", "mjpeg")
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"RIFF" + b"\x00" * 64)
    stack.upload(good, "cams/site 1/rec.AVI")
    stack.upload(bad, "cams/bad.avi")
    version = stack.s3.head_object(Bucket=stack.source, Key="cams/site 1/rec.AVI").get("VersionId")

    def answer(key: str, version: str | None = None) -> dict[str, Any]:
        response = handle_event(batch_event(schema, stack.source, key, version), local_context(), stack.runtime)
        assert response["invocationSchemaVersion"] == schema and response["treatMissingKeysAs"] == "PermanentFailure"
        (result,) = response["results"]
        return dict(result)

    converted = answer("cams/site+1/rec.AVI", version)
    assert converted["resultCode"] == "Succeeded" and converted["resultString"].startswith("converted: s3://")
    assert not stack.exists(stack.source, "cams/site 1/rec.AVI")
    rejected = answer("cams/bad.avi")
    assert rejected["resultCode"] == "PermanentFailure" and rejected["resultString"].startswith("UnreadableVideo")
    assert answer("cams/notes.txt")["resultString"] == "skipped: not an .avi key"
    aws.dynamodb().delete_table(TableName=stack.settings.idempotency_table)  # what a retry may fix
    stack.upload(good, "cams/later.avi")
    temporary = answer("cams/later.avi")
    assert temporary["resultCode"] == "TemporaryFailure"
    assert stack.exists(stack.source, "cams/later.avi")
