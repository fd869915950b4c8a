"""``avi2mp4 demo``: the whole S3 -> Lambda flow on a laptop, no AWS account.

Starts an embedded S3 + DynamoDB + Step Functions (moto, its ASL interpreter running the template's
state machine), creates the buckets, the table and the state machine, and invokes the real
handlers with real-shaped events:
1. a short generated AVI is converted in one pass by the function;
2. a long one (longer than the split threshold) is handed to the state machine, whose clip jobs
   and finish run through the Lambda Invoke API on loopback;
3. the same event is delivered again and does no work.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devtools.local_aws import LocalAws, local_context, s3_event
from devtools.local_lambda import LocalLambda
from devtools.sample_avi import make_sample_avi

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SOURCE_BUCKET = "avi-uploads"
VIDEO_BUCKET = "video-mp4"
IMAGE_BUCKET = "unlabeled-images"
TABLE = "avi2mp4-idempotency"
SHORT_KEY = "cams/site 1/short recording.avi"
KEY = "cams/site 1/demo recording.avi"
ASL = Path(__file__).resolve().parent.parent / "statemachine" / "clips.asl.json"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function"
CLIP_CONCURRENCY = 4


def run_demo(seconds: float = 250.0, short_seconds: float = 30.0) -> int:
    with LocalAws() as aws, tempfile.TemporaryDirectory(prefix="avi2mp4-demo-") as tmp:
        functions = LocalLambda({
            "avi2mp4-clip": lambda event: clip_handler(event, local_context()),
            "avi2mp4-finish": lambda event: finish_handler(event, local_context()),
        })  # fmt: skip
        aws.run_state_machines()
        sfn = aws.stepfunctions()
        role = "arn:aws:iam::000000000000:role/avi2mp4"
        machine = sfn.create_state_machine(name="avi2mp4-clips", definition=_definition(), roleArn=role)
        # The state machine's Lambda tasks call localhost:$MOTO_PORT: the Invoke API above.
        lambda_port = functions.endpoint.rsplit(":", 1)[1]
        os.environ.update(aws.env)
        os.environ.update({"VIDEO_BUCKET": VIDEO_BUCKET, "IMAGE_BUCKET": IMAGE_BUCKET, "IDEMPOTENCY_TABLE": TABLE,
                           "STATE_MACHINE_ARN": machine["stateMachineArn"], "POWERTOOLS_LOG_LEVEL": "WARNING",
                           "POWERTOOLS_METRICS_DISABLED": "true", "MOTO_PORT": lambda_port})  # fmt: skip
        # Imported once the environment is set: the handlers' logger reads its level at import.
        from handler.app import clip_handler, finish_handler, lambda_handler

        print(f"local S3 + DynamoDB + Step Functions at {aws.endpoint}; Lambda Invoke API at {functions.endpoint}")
        for bucket, versioned in ((SOURCE_BUCKET, True), (VIDEO_BUCKET, False), (IMAGE_BUCKET, False)):
            aws.create_bucket(bucket, versioned=versioned)
        aws.create_idempotency_table(TABLE)
        s3 = aws.s3()

        with functions:
            print(f"\n1. A short recording ({short_seconds:.0f} s): one pass in the function")
            event = _upload(
                s3, make_sample_avi(Path(tmp) / "short.avi", short_seconds), SHORT_KEY, "0062B4C8A1E9D3F7A0"
            )
            started = time.monotonic()
            (done,) = lambda_handler(event, local_context())["done"]
            print(f"   {done['status']} in {time.monotonic() - started:.1f} s: {done['frames']} frames")
            _show(s3, done["manifest"])

            print(f"\n2. A long recording ({seconds:.0f} s, longer than the 240 s split threshold): clip jobs")
            event = _upload(s3, make_sample_avi(Path(tmp) / "long.avi", seconds), KEY, "0062B4C8A1E9D3F7A1")
            started = time.monotonic()
            (done,) = lambda_handler(event, local_context())["done"]
            print(f"   the function planned it from its header and index and {done['status'].replace('_', ' ')} "
                  f"in {time.monotonic() - started:.1f} s:\n   {done['execution']}")  # fmt: skip
            ended = _wait(sfn, done["execution"])
            clips = sum(1 for e in functions.invocations if "clip" in e)
            print(f"   execution {ended['status']} in {time.monotonic() - started:.1f} s: {clips} clip jobs "
                  f"(at most {CLIP_CONCURRENCY} at once), then finish")  # fmt: skip
            if ended["status"] != "SUCCEEDED":
                print(f"   {ended.get('error')}: {ended.get('cause')}")
                return 1
            _show(s3, json.loads(ended["output"])["manifest"])
            kept = s3.list_objects_v2(Bucket=SOURCE_BUCKET, Prefix=KEY).get("KeyCount", 0)
            print(f"   source s3://{SOURCE_BUCKET}/{KEY}: {'KEPT' if kept else 'deleted'} (after finish verified "
                  "every output)")  # fmt: skip

            print("\n3. The same event delivered again")
            started = time.monotonic()
            again = lambda_handler(event, local_context())
            executions = len(sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"])
            print(f"   answered from the idempotency table in {time.monotonic() - started:.2f} s: "
                  f"{again['done'][0]['status']}, no new work; executions: {executions}")  # fmt: skip
    return 0


def _definition() -> str:
    text = ASL.read_text().replace("${MaxConcurrency}", str(CLIP_CONCURRENCY))
    for name, function in (("ClipFunctionArn", "avi2mp4-clip"), ("FinishFunctionArn", "avi2mp4-finish"),
                           ("ConvertFunctionArn", "avi2mp4-convert")):  # fmt: skip
        text = text.replace("${" + name + "}", f"{FUNCTION_ARN}:{function}")
    return text


def _upload(s3: S3Client, avi: Path, key: str, sequencer: str) -> dict[str, Any]:
    s3.upload_file(str(avi), SOURCE_BUCKET, key)  # multipart above 8 MB, as a browser would
    head = s3.head_object(Bucket=SOURCE_BUCKET, Key=key)
    print(f"   uploaded s3://{SOURCE_BUCKET}/{key} ({head['ContentLength'] / 1e6:.1f} MB)")
    return s3_event(SOURCE_BUCKET, key, head["ContentLength"], head["ETag"].strip('"'), head.get("VersionId"),
                    sequencer, event_name="ObjectCreated:CompleteMultipartUpload")  # fmt: skip


def _wait(sfn: Any, execution: str) -> dict[str, Any]:
    """The execution's end state (moto runs it on a thread of its server)."""
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.5)


def _show(s3: S3Client, manifest_location: str) -> None:
    manifest = json.loads(s3.get_object(Bucket=VIDEO_BUCKET, Key=manifest_location.split("/", 3)[3])["Body"].read())
    dead: dict[str, int] = {}
    for d in manifest["dead_frames"]:
        dead[d["reason"]] = dead.get(d["reason"], 0) + 1
    print(f"   {manifest_location}: {manifest['conversion']}")
    for clip in manifest["clips"]:
        frames = f"frames {clip['first_frame']}..{clip['last_frame']}"
        print(f"     {clip['location']}  {frames}  ({clip['bytes']:,} bytes)")
    folder = manifest["frames"][0]["key"].rsplit("/", 1)[0]
    print(
        f"     {len(manifest['frames'])} JPEGs in s3://{IMAGE_BUCKET}/{folder}/; dead frames dropped: {dead or 'none'}"
    )
    sheets = ", ".join(r["key"].rsplit("/", 1)[-1] for r in manifest["review_sheets"])
    print(f"     review sheet (every sampled frame, dropped ones dimmed): {sheets}")
