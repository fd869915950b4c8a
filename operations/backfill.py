"""``avi2mp4 backfill``: every AVI already under a prefix, handed to the function as the S3 event
its upload would have sent, at a bounded rate. For millions of objects, S3 Batch Operations over an
inventory is the path (the function answers its tasks too; README)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from avi2mp4.outputs.names import is_avi
from operations.events import s3_event
from operations.invokers import Invoker, InvokeRefused

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectTypeDef


@dataclass
class Summary:
    queued: int = 0
    skipped: int = 0
    """Objects under the prefix that are not AVIs."""
    failed: list[str] = field(default_factory=list)

    def line(self, verb: str = "queued") -> str:
        return f"{verb} {self.queued}, skipped {self.skipped} (not .avi), failed {len(self.failed)}"


def listed(s3: S3Client, bucket: str, prefix: str) -> Iterator[ObjectTypeDef]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def backfill(s3: S3Client, bucket: str, prefix: str, invoke: Invoker | None, rate: float,
             progress: Callable[[str], None] = lambda key: None) -> Summary:  # fmt: skip
    """Hand each AVI under ``prefix`` to ``invoke`` (None: a dry run), at most ``rate`` a second."""
    summary = Summary()
    interval, next_at = 1.0 / rate, time.monotonic()
    for number, obj in enumerate(listed(s3, bucket, prefix)):
        key = obj["Key"]
        if not is_avi(key):
            summary.skipped += 1
            continue
        progress(key)
        if invoke is None:
            summary.queued += 1
            continue
        time.sleep(max(0.0, next_at - time.monotonic()))  # the bounded rate
        next_at = time.monotonic() + interval
        event = s3_event(bucket, key, obj["Size"], obj["ETag"].strip('"'), None, f"{number:016X}BACKFILL")
        try:
            invoke(event)
            summary.queued += 1
        except InvokeRefused as exc:
            summary.failed.append(f"{key}: {exc}")
    return summary
