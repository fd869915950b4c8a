"""``avi2mp4 demo``: the whole S3 -> Lambda flow on a laptop, no AWS account.

Brings the stack up on loopback (``devtools.sandbox``: moto's S3, DynamoDB, SQS, EventBridge and
Step Functions, its ASL interpreter running the template's state machine; the functions on a local
Invoke API) and invokes the real handlers with real-shaped events:
1. a short generated AVI is converted in one pass by the function;
2. a long one (longer than the split threshold) is handed to the state machine, whose clip jobs
   and finish run through the Lambda Invoke API on loopback;
3. the same event is delivered again and does no work.
Every output is then copied to ``out`` (the review sheets it names can be opened), with the
completion events; the function's JSON logs go to ``out/function-logs.jsonl``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from devtools.local_aws import local_context, s3_event
from devtools.sample_avi import make_sample_avi
from devtools.sandbox import CLIP_CONCURRENCY, IMAGE_BUCKET, SOURCE_BUCKET, VIDEO_BUCKET, Sandbox
from operations.invokers import route_function_logs

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SHORT_KEY = "cams/site 1/short recording.avi"
KEY = "cams/site 1/demo recording.avi"


def say(*text: object) -> None:
    """The story, on the terminal (stdout carries the functions' metric lines to the log file)."""
    print(*text, file=sys.__stdout__, flush=True)


def run_demo(seconds: float = 250.0, short_seconds: float = 30.0, out: Path = Path("demo-output")) -> int:
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "function-logs.jsonl"
    env = {"POWERTOOLS_LOG_LEVEL": "INFO", "POWERTOOLS_METRICS_DISABLED": "true"}
    with Sandbox(extra_env=env) as box, tempfile.TemporaryDirectory(prefix="avi2mp4-demo-") as tmp, \
            logs.open("w") as log_file, _function_logs_to(log_file), contextlib.redirect_stdout(log_file):  # fmt: skip
        from handler.app import lambda_handler

        aws, s3, sfn = box.aws, box.aws.s3(), box.aws.stepfunctions()
        say(f"local S3, DynamoDB, SQS, EventBridge and Step Functions at {aws.endpoint}; Lambda Invoke API at "
              f"{box.functions.endpoint}; the function's JSON logs go to {logs}")  # fmt: skip

        say(f"\n1. A short recording ({short_seconds:.0f} s): one pass in the function")
        event = _upload(s3, make_sample_avi(Path(tmp) / "short.avi", short_seconds), SHORT_KEY, "0062B4C8A1E9D3F7A0")
        started = time.monotonic()
        (done,) = lambda_handler(event, local_context())["done"]
        say(f"   {done['status']} in {time.monotonic() - started:.1f} s: {done['frames']} frames")
        _show(s3, done["manifest"], out)

        say(f"\n2. A long recording ({seconds:.0f} s, longer than the 240 s split threshold): clip jobs")
        event = _upload(s3, make_sample_avi(Path(tmp) / "long.avi", seconds), KEY, "0062B4C8A1E9D3F7A1")
        started = time.monotonic()
        (done,) = lambda_handler(event, local_context())["done"]
        say(f"   the function planned it from its header and index and {done['status'].replace('_', ' ')} "
              f"in {time.monotonic() - started:.1f} s:\n   {done['execution']}")  # fmt: skip
        ended = _wait(sfn, done["execution"])
        clips = sum(1 for e in box.functions.invocations if "clip" in e)
        say(f"   execution {ended['status']} in {time.monotonic() - started:.1f} s: {clips} clip jobs "
              f"(at most {CLIP_CONCURRENCY} at once), then finish")  # fmt: skip
        if ended["status"] != "SUCCEEDED":
            say(f"   {ended.get('error')}: {ended.get('cause')}")
            return 1
        _show(s3, json.loads(ended["output"])["manifest"], out)
        kept = s3.list_objects_v2(Bucket=SOURCE_BUCKET, Prefix=KEY).get("KeyCount", 0)
        say(f"   source s3://{SOURCE_BUCKET}/{KEY}: {'KEPT' if kept else 'deleted'} (after finish verified "
              "every output)")  # fmt: skip

        say("\n3. The same event delivered again")
        started = time.monotonic()
        again = lambda_handler(event, local_context())
        executions = len(sfn.list_executions(stateMachineArn=box.state_machine)["executions"])
        say(f"   answered from the idempotency table in {time.monotonic() - started:.2f} s: "
              f"{again['done'][0]['status']}, no new work; executions: {executions}")  # fmt: skip

        events = box.received_events()
        (out / "completion-events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
        kinds = ", ".join(e["detail-type"] for e in events)
        say(f"\nCompletion events on the bus ({len(events)}: {kinds}): {out / 'completion-events.jsonl'}")
        copied = _keep(s3, out)
        say(f"Outputs kept on disk: {copied} files under {out}/ ({out / VIDEO_BUCKET}/, {out / IMAGE_BUCKET}/)")
    return 0


@contextlib.contextmanager
def _function_logs_to(stream: TextIO) -> Iterator[None]:
    """The handlers' JSON log lines (Powertools, to stdout by default) into ``stream``; the
    terminal keeps the story."""
    importlib.import_module("handler.app")  # makes the Powertools logger, at the level the environment says
    before = route_function_logs(stream)
    try:
        yield
    finally:
        for handler, previous in before:
            handler.setStream(previous)


def _upload(s3: S3Client, avi: Path, key: str, sequencer: str) -> dict[str, Any]:
    s3.upload_file(str(avi), SOURCE_BUCKET, key)  # multipart above 8 MB, as a browser would
    head = s3.head_object(Bucket=SOURCE_BUCKET, Key=key)
    say(f"   uploaded s3://{SOURCE_BUCKET}/{key} ({head['ContentLength'] / 1e6:.1f} MB)")
    return s3_event(SOURCE_BUCKET, key, head["ContentLength"], head["ETag"].strip('"'), head.get("VersionId"),
                    sequencer, event_name="ObjectCreated:CompleteMultipartUpload")  # fmt: skip


def _wait(sfn: Any, execution: str) -> dict[str, Any]:
    """The execution's end state (moto runs it on a thread of its server)."""
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.5)


def _keep(s3: S3Client, out: Path) -> int:
    """Every output object, copied under ``out/<bucket>/<key>``."""
    copied = 0
    for bucket in (VIDEO_BUCKET, IMAGE_BUCKET):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                target = out / bucket / obj["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, obj["Key"], str(target))
                copied += 1
    return copied


def _show(s3: S3Client, manifest_location: str, out: Path) -> None:
    manifest = json.loads(s3.get_object(Bucket=VIDEO_BUCKET, Key=manifest_location.split("/", 3)[3])["Body"].read())
    dead: dict[str, int] = {}
    for d in manifest["dead_frames"]:
        dead[d["reason"]] = dead.get(d["reason"], 0) + 1
    say(f"   {manifest_location}: {manifest['conversion']}")
    for clip in manifest["clips"]:
        frames = f"frames {clip['first_frame']}..{clip['last_frame']}"
        say(f"     {clip['location']}  {frames}  ({clip['bytes']:,} bytes)")
    folder = manifest["frames"][0]["key"].rsplit("/", 1)[0]
    say(f"     {len(manifest['frames'])} JPEGs in s3://{IMAGE_BUCKET}/{folder}/; dead frames dropped: {dead or 'none'}")
    sheets = ", ".join(str(out / VIDEO_BUCKET / r["key"]) for r in manifest["review_sheets"])
    say(f"     review sheets (every sampled frame, dropped ones dimmed), kept at: {sheets}")
