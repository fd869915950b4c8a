"""``avi2mp4 sandbox`` as a new user runs it: started in one shell, its export lines used in
another by ``backfill`` and ``redrive``, stopped with Ctrl-C. Outputs, the failure queue and the
completion events are read back from the sandbox's own services."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from devtools.readback import lavfi_video, make
from devtools.sandbox import CONVERT, FAILURE_QUEUE, IMAGE_BUCKET, SOURCE_BUCKET, VIDEO_BUCKET

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    proc = subprocess.Popen([sys.executable, "-m", "avi2mp4", "sandbox", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ, "TMPDIR": str(tmp_path)})  # fmt: skip
    guard = threading.Timer(300, proc.kill)  # a sandbox that never says it is up must not hang the run
    guard.start()
    env: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").strip().partition("=")
            env[name] = value
        if line.startswith("Ctrl-C stops it"):
            break
    guard.cancel()
    assert env, "the sandbox printed no export lines"
    try:
        yield proc, env
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run([sys.executable, "-m", "avi2mp4", *args], capture_output=True, text=True,
                          env={**clean, **env}, timeout=300, check=False)  # fmt: skip


def test_the_sandbox_serves_backfill_and_redrive_until_ctrl_c(
    sandbox: tuple[subprocess.Popen[str], dict[str, str]], tmp_path: Path
) -> None:
    proc, env = sandbox
    session = boto3.session.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                                    aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                                    region_name=env["AWS_DEFAULT_REGION"])  # fmt: skip
    s3 = session.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
    sqs = session.client("sqs", endpoint_url=env["AWS_ENDPOINT_URL"])
    avi = make(tmp_path / "a.avi", *lavfi_video(0.6), "-c:v", "mjpeg")
    s3.upload_file(str(avi), SOURCE_BUCKET, "cams/a.avi")

    done = _cli(env, "backfill", "--bucket", SOURCE_BUCKET, "--function", CONVERT)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"queued s3://{SOURCE_BUCKET}/cams/a.avi: {CONVERT}"
    assert "cams/a.manifest.json" in [o["Key"] for o in s3.list_objects_v2(Bucket=VIDEO_BUCKET)["Contents"]]

    # A conversion that fails (its image bucket is gone) lands on the failure queue, as Lambda's
    # on-failure destination puts it; redrive converts it once the bucket is back.
    s3.upload_file(str(avi), SOURCE_BUCKET, "cams/b.avi")
    for obj in s3.list_objects_v2(Bucket=IMAGE_BUCKET).get("Contents", []):
        s3.delete_object(Bucket=IMAGE_BUCKET, Key=obj["Key"])
    s3.delete_bucket(Bucket=IMAGE_BUCKET)
    _cli(env, "backfill", "--bucket", SOURCE_BUCKET, "--prefix", "cams/b", "--function", CONVERT)
    queue = sqs.get_queue_url(QueueName=FAILURE_QUEUE)["QueueUrl"]
    s3.create_bucket(Bucket=IMAGE_BUCKET)

    dry = _cli(env, "redrive", "--queue", queue, "--dry-run")
    redriven = _cli(env, "redrive", "--queue", queue, "--function", CONVERT)

    assert dry.stdout.splitlines() == [f"would redrive s3://{SOURCE_BUCKET}/cams/b.avi",
                                       "would redrive 1, left on the queue 0"]  # fmt: skip
    assert redriven.returncode == 0, redriven.stderr
    assert redriven.stdout.splitlines() == [f"queued s3://{SOURCE_BUCKET}/cams/b.avi: {CONVERT}",
                                            "redriven 1, left on the queue 0"]  # fmt: skip
    assert "cams/b.manifest.json" in [o["Key"] for o in s3.list_objects_v2(Bucket=VIDEO_BUCKET)["Contents"]]
    (events_queue,) = [u for u in sqs.list_queues()["QueueUrls"] if u.endswith("-events")]
    events = [event["detail-type"] for event in _drain(sqs, events_queue)]
    assert events == ["Conversion Completed", "Conversion Failed", "Conversion Completed"]

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    assert proc.stderr is not None and "stopped" in proc.stderr.read()


def _drain(sqs: SQSClient, url: str) -> list[dict[str, Any]]:
    """Every message the queue holds, oldest first."""
    found: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        found += [json.loads(m["Body"]) for m in messages]
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return found
