"""The rule under faults: S3 and DynamoDB behind a seeded fault-injecting proxy on loopback
(``tests.integration.faults``: 500, 503 SlowDown, resets, bodies cut short, latency, a 500 after the
write was stored), at 2, 10 and 25 % of requests, over one pass, clip jobs and redeliveries.

The rule, as the README states it: a source is deleted only after a complete manifest whose every
output exists with its size and SHA-256; otherwise it is kept, with no manifest and no work objects
left behind, and a later delivery converts it. No fault may make a good recording "rejected".
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from avi2mp4.errors import StorageError
from avi2mp4.outputs.names import OutputLayout
from avi2mp4.settings import PipelineConfig
from devtools.local_aws import REGION, LocalAws
from devtools.readback import lavfi_audio, lavfi_video, make
from handler.app import BOTO_CONFIG, build_runtime
from handler.tasks import ConversionFailed
from tests.integration.deployed import Deployed
from tests.integration.faults import FaultyProxy, random_faults
from tests.integration.stack import Stack, make_stack

SEED = 20261207
DELIVERIES = 3
"""S3's delivery and Lambda's two retries of an event that failed."""


@pytest.fixture
def proxy(aws: LocalAws) -> Iterator[FaultyProxy]:
    with FaultyProxy(aws.endpoint) as running:
        yield running


def _faulty(stack: Stack, proxy: FaultyProxy) -> Stack:
    """``stack`` whose function reaches S3 and DynamoDB through ``proxy`` (the test's own client
    stays direct: it checks what is really stored)."""
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    s3 = session.client("s3", endpoint_url=proxy.endpoint, config=BOTO_CONFIG)
    dynamodb = session.client("dynamodb", endpoint_url=proxy.endpoint, config=BOTO_CONFIG)
    events = stack.aws.events()  # direct: the events are not what these tests hold to the rule
    return dataclasses.replace(stack, runtime=build_runtime(stack.settings, s3=s3, dynamodb=dynamodb, events=events))


def _body(stack: Stack, bucket: str, key: str) -> bytes:
    return stack.s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def assert_rule(stack: Stack, key: str) -> str:
    """The rule for the source ``key``, as stored right now; "converted" or "kept"."""
    video, image = stack.settings.video_bucket, stack.settings.image_bucket
    layout = OutputLayout.for_key(key)
    owned = {(video, k) for k in stack.keys(video) if layout.owns("video", k)}
    owned |= {(image, k) for k in stack.keys(image) if layout.owns("image", k)}
    kept = stack.exists(stack.source, key)
    if (video, layout.manifest_key) not in owned:
        assert kept, f"{key}: deleted without a manifest"
        assert owned == set(), f"{key}: kept, but left {sorted(owned)}"
        return "kept"
    manifest = json.loads(_body(stack, video, layout.manifest_key))
    listed = {(video, c["key"]): (c["bytes"], c["sha256"]) for c in manifest["clips"]}
    listed |= {(video, r["key"]): (r["bytes"], r["sha256"]) for r in manifest["review_sheets"]}
    listed |= {(image, f["key"]): (f["bytes"], f["sha256"]) for f in manifest["frames"]}
    listed |= {(image, t["key"]): (t["bytes"], t["sha256"]) for t in manifest["labeling_tools"].values()}
    for (bucket, output), (size, sha256) in listed.items():
        data = _body(stack, bucket, output)
        assert (len(data), hashlib.sha256(data).hexdigest()) == (size, sha256), f"{output} is not what was listed"
    assert owned == {*listed, (video, layout.manifest_key)}, f"{key}: beside its set: {owned - set(listed)}"
    # A complete set whose source is still there: the delete failed; a later delivery finishes it.
    return "kept" if kept else "converted"


def expire_in_progress(aws: LocalAws, table: str) -> int:
    """Let the deadline of every in-progress idempotency record pass: what waiting for it does (a
    record stays in progress when its invocation's own delete failed, or a write's answer was lost)."""
    dynamodb = aws.dynamodb()
    items = dynamodb.scan(TableName=table)["Items"]
    past = str(int(time.time() * 1000) - 1000)
    held = [i for i in items if i.get("status", {}).get("S") == "INPROGRESS"]
    for item in held:
        dynamodb.update_item(TableName=table, Key={"id": item["id"]}, ExpressionAttributeValues={":t": {"N": past}},
                             UpdateExpression="SET in_progress_expiration = :t")  # fmt: skip
    return len(held)


def _deliver(stack: Stack, event: dict[str, Any]) -> str:
    try:
        answer = stack.invoke(event)
    except ConversionFailed:
        return "failed"
    (result,) = answer["done"] + answer["rejected"]
    return str(result["status"])


@pytest.mark.parametrize("rate", [0.02, 0.10, 0.25])
def test_one_pass_keeps_the_rule_under_faults(aws: LocalAws, proxy: FaultyProxy, tmp_path: Path, rate: float) -> None:
    stack = _faulty(make_stack(aws, tmp_path, PipelineConfig(clip_seconds=1.0, split_after_seconds=2.0)), proxy)
    sources = {
        "cams/whole.avi": make(tmp_path / "whole.avi", *lavfi_video(1.2), "-c:v", "mjpeg"),
        "cams/split.avi": make(
            tmp_path / "split.avi", *lavfi_video(3.2), *lavfi_audio(3.2), "-c:v", "mjpeg", "-c:a", "pcm_s16le"
        ),
    }
    events = {key: stack.upload(path, key) for key, path in sources.items()}
    proxy.rule = random_faults(rate, SEED)
    answers: Counter[str] = Counter()

    for _ in range(DELIVERIES):
        for key, event in events.items():
            answers[_deliver(stack, event)] += 1
            assert_rule(stack, key)

    assert answers["rejected"] == 0, f"a fault was judged as bad input: {answers}"
    assert rate < 0.05 or sum(proxy.injected.values()) > 1, (proxy.requests, proxy.injected)
    # The faults pass; what is still held in progress expires; the next delivery converts.
    proxy.rule = None
    expire_in_progress(aws, stack.settings.idempotency_table)
    for key, event in events.items():
        assert _deliver(stack, event) == "converted"
        assert assert_rule(stack, key) == "converted"


@pytest.mark.parametrize("rate", [0.10, 0.25])
def test_clip_jobs_keep_the_rule_under_faults(aws: LocalAws, proxy: FaultyProxy, tmp_path: Path, rate: float,
                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    # The functions the state machine invokes build their clients from the environment, as in Lambda.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.endpoint)
    deployed = Deployed(aws, tmp_path, monkeypatch)
    stack = deployed.stack
    recording = make(tmp_path / "long.avi", *lavfi_video(5.2), *lavfi_audio(5.2), "-c:v", "mjpeg", "-c:a", "pcm_s16le")
    events = {key: stack.upload(recording, key) for key in ("cams/a.avi", "cams/b.avi")}
    proxy.rule = random_faults(rate, SEED)
    ends: Counter[str] = Counter()

    with deployed.functions:
        for _ in range(DELIVERIES):
            for key, event in events.items():
                try:
                    answer = deployed.invoke(event)
                except ConversionFailed:
                    ends["failed"] += 1
                    assert_rule(stack, key)
                    continue
                (result,) = answer["done"] + answer["rejected"]
                assert result["status"] != "rejected", result
                if result["status"] == "handed_off":
                    ends[deployed.wait(result["execution"])["status"]] += 1
                assert_rule(stack, key)
        assert sum(proxy.injected.values()) > 1 and ends, ends
        proxy.rule = None
        expire_in_progress(aws, stack.settings.idempotency_table)
        for key, event in events.items():
            (result,) = deployed.invoke(event)["done"]
            if result["status"] == "handed_off":
                assert deployed.wait(result["execution"])["status"] == "SUCCEEDED"
            assert assert_rule(stack, key) == "converted"


def test_a_lost_idempotency_write_ends_with_a_reason_to_redrive(aws: LocalAws, proxy: FaultyProxy,
                                                                tmp_path: Path) -> None:  # fmt: skip
    """DynamoDB stores the in-progress record but its answer is lost: the client's retry finds the
    record and every delivery answers "in progress" until the first one's deadline. The failure
    says to redrive after that time, and a redelivery then converts."""
    stack = _faulty(make_stack(aws, tmp_path), proxy)
    event = stack.upload(make(tmp_path / "a.avi", *lavfi_video(0.6), "-c:v", "mjpeg"), "cams/a.avi")
    proxy.rule = lambda r: "lost_write" if r.target.endswith(".PutItem") and r.seen == 0 else None

    with pytest.raises(ConversionFailed) as failed:
        stack.invoke(event)

    reason = str(failed.value)
    assert "in progress elsewhere (until 20" in reason and "redrive this event after that time" in reason
    assert proxy.injected["lost_write"] == 1 and assert_rule(stack, "cams/a.avi") == "kept"
    assert expire_in_progress(aws, stack.settings.idempotency_table) == 1
    assert _deliver(stack, event) == "converted"
    assert assert_rule(stack, "cams/a.avi") == "converted"


def test_a_body_cut_short_is_read_again_then_is_a_storage_error(aws: LocalAws, proxy: FaultyProxy,
                                                                 tmp_path: Path) -> None:  # fmt: skip
    """botocore retries a request that failed, not a body that broke off while read (it escaped as
    botocore's IncompleteReadError, or urllib3's ProtocolError for an error body): the store reads
    again, and when that fails too it is a StorageError, which every caller retries."""
    stack = _faulty(make_stack(aws, tmp_path), proxy)
    data = b"{}" * 4096
    stack.s3.put_object(Bucket=stack.settings.video_bucket, Key="cams/a.manifest.json", Body=data)
    proxy.rule = lambda r: "cut" if r.method == "GET" and r.seen < 2 else None

    assert stack.runtime.store.get_bytes("video", "cams/a.manifest.json") == data
    assert proxy.injected["cut"] == 2

    proxy.rule = lambda r: "cut" if r.method == "GET" else None
    with pytest.raises(StorageError, match="cannot read s3://"):
        stack.runtime.store.get_bytes("video", "cams/a.manifest.json")
    assert proxy.injected["cut"] == 2 + 4, "read 4 times before giving up"
