"""Backfill and redrive end to end: the CLI as users run it, against the embedded S3, DynamoDB and
SQS, with the function invoked through the Lambda Invoke API and the same entry point Lambda uses
(``handler.app.lambda_handler``, served on loopback by ``devtools.local_lambda``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from devtools.local_aws import REGION, LocalAws, s3_event
from devtools.local_lambda import LocalLambda
from devtools.readback import lavfi_video, make
from handler import app
from tests.integration.stack import Stack, make_stack


@pytest.fixture
def deployed(aws: LocalAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Stack, LocalLambda]]:
    """A stack whose function runs in this process, configured by its environment as in Lambda."""
    stack = make_stack(aws, tmp_path)
    s = stack.settings
    for name, value in {**aws.env, "VIDEO_BUCKET": s.video_bucket, "IMAGE_BUCKET": s.image_bucket,
                        "IDEMPOTENCY_TABLE": s.idempotency_table, "TMP_DIR": str(s.tmp_dir),
                        "POWERTOOLS_METRICS_DISABLED": "true"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    app.default_runtime.cache_clear()
    with LocalLambda() as function:
        yield stack, function
    app.default_runtime.cache_clear()


def cli(aws: LocalAws, function: LocalLambda, *args: str,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    env = {**os.environ, **aws.env, "AWS_ENDPOINT_URL_LAMBDA": function.endpoint, **(env or {})}
    return subprocess.run([sys.executable, "-m", "avi2mp4", *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)  # fmt: skip


def test_backfill_converts_what_is_already_there(deployed: tuple[Stack, LocalLambda], aws: LocalAws,
                                                 tmp_path: Path) -> None:  # fmt: skip
    stack, function = deployed
    avi = make(tmp_path / "a.avi", *lavfi_video(0.4), "-c:v", "mjpeg")
    for key in ("cams/a.avi", "cams/sub/B.AVI", "other/c.avi"):
        stack.s3.upload_file(str(avi), stack.source, key)
    stack.s3.put_object(Bucket=stack.source, Key="cams/notes.txt", Body=b"notes")

    dry = cli(aws, function, "backfill", "--bucket", stack.source, "--prefix", "cams/", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [f"would hand over s3://{stack.source}/cams/a.avi",
                                       f"would hand over s3://{stack.source}/cams/sub/B.AVI",
                                       "would hand over 2; skipped 1 not .avi, 0 rejected before"]  # fmt: skip
    assert function.invocations == []

    done = cli(aws, function, "backfill", "--bucket", stack.source, "--prefix", "cams/", "--function", "avi2mp4",
               "--rate", "50")  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "queued 2, rejected 0, failed 0; skipped 1 not .avi, 0 rejected before"
    assert done.stdout.splitlines()[0] == f"queued s3://{stack.source}/cams/a.avi: avi2mp4"
    assert sorted(e["Records"][0]["s3"]["object"]["key"] for e in function.invocations) == ["cams/a.avi",
                                                                                          "cams/sub/B.AVI"]  # fmt: skip
    assert stack.keys(stack.source) == ["cams/notes.txt", "other/c.avi"], "converted sources are deleted"
    assert {"cams/a.manifest.json", "cams/sub/B.manifest.json"} <= set(stack.keys(stack.settings.video_bucket))

    # LOCAL_RUN: this process converts, with the same idempotency, read-back and source deletion.
    local = cli(aws, function, "backfill", "--bucket", stack.source, "--prefix", "other/", "--local")
    video = stack.settings.video_bucket
    assert local.returncode == 0 and local.stdout.splitlines() == [
        f"converted s3://{stack.source}/other/c.avi: s3://{video}/other/c.manifest.json",
        "converted 1, rejected 0, failed 0; skipped 0 not .avi, 0 rejected before",
    ], local
    assert "{" not in local.stderr, "the function's JSON logs only with -v"
    assert len(function.invocations) == 2, "not through the function"
    assert stack.keys(stack.source) == ["cams/notes.txt"]
    assert "other/c.manifest.json" in stack.keys(stack.settings.video_bucket)


def test_redrive_reinvokes_and_deletes_only_what_was_accepted(deployed: tuple[Stack, LocalLambda], aws: LocalAws,
                                                              tmp_path: Path) -> None:  # fmt: skip
    stack, function = deployed
    sqs = boto3.client("sqs", endpoint_url=aws.endpoint, region_name=REGION, aws_access_key_id="testing",
                       aws_secret_access_key="testing")  # fmt: skip
    queue = sqs.create_queue(QueueName=f"failures-{stack.source}")["QueueUrl"]
    event = stack.upload(make(tmp_path / "a.avi", *lavfi_video(0.4), "-c:v", "mjpeg"), "cams/failed.avi")
    record = {"version": "1.0", "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 2,
              "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:avi2mp4:$LATEST"},
              "requestPayload": event, "responsePayload": {"errorType": "ConversionFailed"}}  # fmt: skip
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(record))
    sqs.send_message(QueueUrl=queue, MessageBody="not a failure record")

    dry = cli(aws, function, "redrive", "--queue", queue, "--dry-run")
    assert dry.stdout.splitlines()[-1] == "would redrive 1, left on the queue 1" and function.invocations == []
    assert f"would redrive s3://{stack.source}/cams/failed.avi" in dry.stdout.splitlines()

    done = cli(aws, function, "redrive", "--queue", queue, "--function", "avi2mp4")

    assert done.returncode == 1 and done.stdout.splitlines()[-1] == "redriven 1, left on the queue 1", done.stderr
    lines = sorted(done.stdout.splitlines()[:-1])
    assert lines[0].startswith("kept on the queue message ") and "not a Lambda on-failure record" in lines[0]
    assert f"queued s3://{stack.source}/cams/failed.avi: avi2mp4" in lines
    assert function.invocations == [event]
    assert not stack.exists(stack.source, "cams/failed.avi"), "converted this time"
    left = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert int(left["ApproximateNumberOfMessages"]) + int(left["ApproximateNumberOfMessagesNotVisible"]) == 1


def test_a_forged_failure_message_cannot_steer_redrive(deployed: tuple[Stack, LocalLambda], aws: LocalAws,
                                                       tmp_path: Path) -> None:  # fmt: skip
    """Anyone able to send to the failure queue could name any object: with the stack's
    SOURCE_BUCKETS, redrive leaves such a message on the queue and converts nothing (the function
    would refuse it too)."""
    stack, function = deployed
    outside = f"outside-{stack.source}"
    aws.create_bucket(outside)
    stack.s3.upload_file(str(make(tmp_path / "x.avi", *lavfi_video(0.4), "-c:v", "mjpeg")), outside, "theirs.avi")
    head = stack.s3.head_object(Bucket=outside, Key="theirs.avi")
    forged = s3_event(outside, "theirs.avi", head["ContentLength"], head["ETag"].strip('"'), None, "0A")
    sqs = boto3.client("sqs", endpoint_url=aws.endpoint, region_name=REGION, aws_access_key_id="testing",
                       aws_secret_access_key="testing")  # fmt: skip
    queue = sqs.create_queue(QueueName=f"forged-{stack.source}")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"requestPayload": forged}))

    done = cli(aws, function, "redrive", "--queue", queue, "--local", env={"SOURCE_BUCKETS": stack.source})

    assert done.returncode == 1 and done.stdout.splitlines()[-1] == "redriven 0, left on the queue 1", done.stderr
    assert done.stdout.splitlines()[0].startswith(f"kept on the queue s3://{outside}/theirs.avi: ")
    assert "not a source bucket" in done.stdout
    assert stack.keys(outside) == ["theirs.avi"] and stack.keys(stack.settings.video_bucket) == []
    refused = cli(aws, function, "backfill", "--bucket", outside, "--local", env={"SOURCE_BUCKETS": stack.source})
    assert refused.returncode == 2 and "not a source bucket" in refused.stderr
    # The function itself skips an event naming a bucket that is not its source.
    assert stack.invoke(forged)["skipped"][0]["reason"].startswith(f"bucket {outside} is not a source bucket")


@pytest.mark.parametrize("command", [["backfill", "--bucket", "b"], ["redrive", "--queue", "http://q"]])
def test_local_runs_refuse_a_real_account_without_consent(command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    proc = subprocess.run([sys.executable, "-m", "avi2mp4", *command, "--local"], capture_output=True, text=True,
                          env={**env, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}, timeout=60,
                          check=False)  # fmt: skip
    assert proc.returncode == 2 and "AVI2MP4_ALLOW_AWS=1" in proc.stderr and "Traceback" not in proc.stderr


def test_backfill_leaves_what_was_rejected_before_unless_asked(deployed: tuple[Stack, LocalLambda], aws: LocalAws,
                                                               tmp_path: Path) -> None:  # fmt: skip
    stack, function = deployed
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    stack.s3.upload_file(str(empty), stack.source, "in/empty.avi")

    first = cli(aws, function, "backfill", "--bucket", stack.source, "--local")
    again = cli(aws, function, "backfill", "--bucket", stack.source, "--local")
    retried = cli(aws, function, "backfill", "--bucket", stack.source, "--local", "--retry-rejected")

    assert first.returncode == 1, first.stderr
    assert first.stdout.splitlines()[0].startswith(f"rejected s3://{stack.source}/in/empty.avi: EmptyFile: ")
    assert first.stdout.splitlines()[-1] == "converted 0, rejected 1, failed 0; skipped 0 not .avi, 0 rejected before"
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        f"skipped s3://{stack.source}/in/empty.avi: rejected before (avi2mp4-rejected=EmptyFile); "
        "--retry-rejected hands it over",
        "converted 0, rejected 0, failed 0; skipped 0 not .avi, 1 rejected before",
    ]
    assert retried.returncode == 1 and retried.stdout.startswith("rejected "), retried.stdout


def test_missing_credentials_are_one_line_before_any_object(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": REGION}  # fmt: skip
    for command in (["backfill", "--bucket", "b", "--function", "f"], ["redrive", "--queue", "http://q", "--dry-run"]):
        proc = subprocess.run([sys.executable, "-m", "avi2mp4", *command], capture_output=True, text=True, env=env,
                              timeout=60, check=False)  # fmt: skip
        assert proc.returncode == 2, proc
        assert proc.stderr.startswith("avi2mp4: no AWS credentials found") and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""
