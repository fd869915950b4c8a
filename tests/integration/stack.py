"""One test's buckets, table and runtime on the local server: what template.yaml deploys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avi2mp4.settings import PipelineConfig
from devtools.local_aws import LocalAws, local_context, s3_event
from handler.app import Runtime, build_runtime, handle_event
from handler.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass
class Stack:
    """One test's buckets, table and runtime: what template.yaml deploys, on the local server."""

    aws: LocalAws
    source: str
    settings: Settings
    s3: S3Client
    runtime: Runtime
    events_queue: str = ""
    """The queue a rule on the stack's event bus sends the completion events to."""
    sequence: int = field(default=0)

    def upload(self, path: Path, key: str, event_name: str = "ObjectCreated:Put") -> dict[str, Any]:
        """Upload ``path`` and return the event S3 would send for it."""
        self.s3.upload_file(str(path), self.source, key)
        head = self.s3.head_object(Bucket=self.source, Key=key)
        self.sequence += 1
        return s3_event(self.source, key, head["ContentLength"], head["ETag"].strip('"'),
                        head.get("VersionId"), f"{self.sequence:018X}", event_name)  # fmt: skip

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        return handle_event(event, local_context(), self.runtime)

    def events(self) -> list[dict[str, Any]]:
        """The completion events published since the last call."""
        return self.aws.received_events(self.events_queue)

    def keys(self, bucket: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def exists(self, bucket: str, key: str) -> bool:
        return key in self.keys(bucket)


def make_stack(aws: LocalAws, tmp_path: Path, pipeline: PipelineConfig | None = None,
               s3: S3Client | None = None, source: str | None = None) -> Stack:  # fmt: skip
    """``source``: an existing source bucket to share (else a new one)."""
    run = uuid.uuid4().hex[:10]
    video, image, table = f"video-{run}", f"images-{run}", f"idem-{run}"
    if source is None:
        source = f"src-{run}"
        aws.create_bucket(source, versioned=True)
    aws.create_bucket(video)
    aws.create_bucket(image)
    aws.create_idempotency_table(table)
    tmp = tmp_path / "lambda-tmp"
    tmp.mkdir(parents=True)
    bus = f"bus-{run}"
    queue = aws.route_events(bus)
    settings = Settings(video, image, table, 3600, tmp, pipeline or PipelineConfig(), source_buckets=(source,),
                        event_bus_name=bus)  # fmt: skip
    client = s3 or aws.s3()
    runtime = build_runtime(settings, s3=client, dynamodb=aws.dynamodb(), events=aws.events())
    return Stack(aws, source, settings, client, runtime, queue)
