"""``avi2mp4 demo``: the whole S3 -> Lambda flow on a laptop, no AWS account.

Starts an embedded S3 + DynamoDB, creates the buckets and the idempotency table, uploads a
generated AVI longer than the split threshold, invokes the real handler with a real-shaped event,
shows where each output landed, then delivers the same event again to show it does no work.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from devtools.local_aws import LocalAws, local_context, s3_event
from devtools.sample_avi import make_sample_avi

SOURCE_BUCKET = "avi-uploads"
VIDEO_BUCKET = "video-mp4"
IMAGE_BUCKET = "unlabeled-images"
TABLE = "avi2mp4-idempotency"
KEY = "cams/site 1/demo recording.avi"


def run_demo(seconds: float = 250.0) -> int:
    with LocalAws() as aws, tempfile.TemporaryDirectory(prefix="avi2mp4-demo-") as tmp:
        os.environ.update(aws.env)
        os.environ.update({"VIDEO_BUCKET": VIDEO_BUCKET, "IMAGE_BUCKET": IMAGE_BUCKET,
                           "IDEMPOTENCY_TABLE": TABLE, "POWERTOOLS_LOG_LEVEL": "WARNING",
                           "POWERTOOLS_METRICS_DISABLED": "true"})  # fmt: skip
        print(f"local S3 + DynamoDB at {aws.endpoint}")
        aws.create_bucket(SOURCE_BUCKET, versioned=True)
        aws.create_bucket(VIDEO_BUCKET)
        aws.create_bucket(IMAGE_BUCKET)
        aws.create_idempotency_table(TABLE)

        started = time.monotonic()
        avi = make_sample_avi(Path(tmp) / "sample.avi", seconds)
        print(f"generated a {seconds:.0f} s sample AVI ({avi.stat().st_size / 1e6:.1f} MB) "
              f"in {time.monotonic() - started:.1f} s")  # fmt: skip
        s3 = aws.s3()
        s3.upload_file(str(avi), SOURCE_BUCKET, KEY)  # multipart above 8 MB, as a browser would
        head = s3.head_object(Bucket=SOURCE_BUCKET, Key=KEY)
        event = s3_event(SOURCE_BUCKET, KEY, head["ContentLength"], head["ETag"].strip('"'),
                         head.get("VersionId"), "0062B4C8A1E9D3F7A1",
                         event_name="ObjectCreated:CompleteMultipartUpload")  # fmt: skip
        print(f"uploaded s3://{SOURCE_BUCKET}/{KEY}; invoking the handler ...")

        from handler.app import lambda_handler

        started = time.monotonic()
        result = lambda_handler(event, local_context())
        took = time.monotonic() - started
        (done,) = result["done"]
        print(f"converted in {took:.1f} s: {done['frames']} frames, {done['duration_seconds']:.1f} s")
        for bucket in (VIDEO_BUCKET, IMAGE_BUCKET):
            objects = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
            print(f"s3://{bucket}/: {len(objects)} objects")
            for obj in objects[:6]:
                print(f"  {obj['Key']}  ({obj['Size']:,} bytes)")
            if len(objects) > 6:
                print(f"  ... and {len(objects) - 6} more")
        manifest = json.loads(s3.get_object(Bucket=VIDEO_BUCKET, Key=done["manifest"].split("/", 3)[3])["Body"].read())
        dead: dict[str, int] = {}
        for d in manifest["dead_frames"]:
            dead[d["reason"]] = dead.get(d["reason"], 0) + 1
        print(f"dead frames dropped from the JPEG set: {dead or 'none'}")
        gone = "deleted" if done["source_deleted"] else "KEPT"
        print(f"source s3://{SOURCE_BUCKET}/{KEY}: {gone} (after every output was verified)")

        started = time.monotonic()
        again = lambda_handler(event, local_context())
        print(f"same event delivered again: answered from the idempotency table in "
              f"{time.monotonic() - started:.2f} s, {again['done'][0]['status']}, no new work")  # fmt: skip
    return 0
