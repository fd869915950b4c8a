"""A clip job reads only its own clip (plus the header and index), so its download and memory do
not grow with its position in the recording or the recording's length. Each clip job runs in a
fresh process against the local S3 server, reading the object by ranged GETs."""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from avi2mp4.conversion.finish import start
from avi2mp4.conversion.plan import make_plan
from avi2mp4.settings import PipelineConfig
from avi2mp4.storage.port import SourceRef
from avi2mp4.storage.s3 import S3Store
from avi2mp4.storage.s3_range import MiB, S3RangeFile
from devtools.local_aws import LocalAws
from devtools.readback import lavfi_video, make
from tests.integration.stack import make_stack

CFG = PipelineConfig(clip_seconds=10.0, split_after_seconds=20.0)
RUNS = 3

# One clip job in a process of its own: what it fetched from S3, and its peak RSS.
CLIP_JOB = """
import json, resource, sys, boto3
from avi2mp4.conversion.clip_job import run_clip
from avi2mp4.conversion.finish import RunRequest, plan_for
from avi2mp4.storage.s3 import S3Store
from avi2mp4.storage.s3_range import MiB, S3RangeFile
bucket, key, video, image, clip, version = sys.argv[1:7]
s3 = boto3.client("s3")
store = S3Store(s3, video, image)
plan = plan_for(store, RunRequest(bucket, key, version, "run-1"))
# Small blocks: at this test's scale (5 MB clips) 1 MiB blocks would blur the comparison.
reader = S3RangeFile(s3, bucket, key, version_id=plan.source.version_id, size=plan.source.size, block=1 << 16)
run_clip(reader, plan, int(clip), store, plan.config)
print(json.dumps({"bytes": reader.bytes_fetched, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def test_first_and_last_clip_jobs_read_and_hold_the_same(aws: LocalAws, tmp_path: Path) -> None:
    stack = make_stack(aws, tmp_path, CFG)
    src = make(tmp_path / "long.avi", *lavfi_video(40.0, "640x360"), "-c:v", "mjpeg", "-q:v", "3")
    stack.s3.upload_file(str(src), stack.source, "long.avi")
    head = stack.s3.head_object(Bucket=stack.source, Key="long.avi")
    size = head["ContentLength"]
    source = SourceRef("long.avi", size, stack.source, head["ETag"].strip('"'), head.get("VersionId"))
    store = S3Store(stack.s3, stack.settings.video_bucket, stack.settings.image_bucket)
    reader = S3RangeFile(stack.s3, stack.source, "long.avi", version_id=source.version_id, size=size)
    plan = dataclasses.replace(make_plan(reader, source, CFG), run_id="run-1")
    start(plan, store)
    assert [c.index for c in plan.clips] == list(range(4))
    # The header, the index and the first packets: a few of the reader's 1 MiB blocks, not the body.
    assert reader.bytes_fetched <= 3 * MiB and reader.bytes_fetched < size / 8, (reader.bytes_fetched, size)

    env = {**os.environ, **aws.env, "PYTHONPATH": os.pathsep.join(sys.path)}
    measured: dict[int, list[dict[str, int]]] = {0: [], 3: []}
    for clip in (0, 3) * RUNS:
        args = [stack.source, "long.avi", stack.settings.video_bucket, stack.settings.image_bucket, str(clip),
                str(source.version_id)]  # fmt: skip
        proc = subprocess.run([sys.executable, "-c", CLIP_JOB, *args], env=env, capture_output=True, text=True,
                              check=False)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        measured[clip].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    # Peak RSS of one clip varies between runs (measured: mostly ~345 MB, now and then ~310 MB, as
    # threads happen to allocate): compare the medians of a few runs.
    first, last = ({"bytes": runs[0]["bytes"], "rss_kb": statistics.median(r["rss_kb"] for r in runs)}
                   for runs in measured.values())  # fmt: skip
    assert abs(first["bytes"] - last["bytes"]) <= 0.10 * max(first["bytes"], last["bytes"]), measured
    assert abs(first["rss_kb"] - last["rss_kb"]) <= 0.10 * max(first["rss_kb"], last["rss_kb"]), measured
    assert last["bytes"] < size / 3, (measured, size)  # a quarter of the file, plus header and index
