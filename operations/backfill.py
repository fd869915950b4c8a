"""``avi2mp4 backfill``: every AVI already under a prefix, handed to the function as the S3 event
its upload would have sent, at a bounded rate. For millions of objects, S3 Batch Operations over an
inventory is the path (the function answers its tasks too; README).

A source the function rejected before is kept and tagged ``avi2mp4-rejected``; it is skipped (its
reason is recorded next to where its manifest would be) unless ``retry_rejected``."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from avi2mp4.outputs.names import is_avi
from avi2mp4.storage.s3_source import REJECTED_TAG
from operations.events import s3_event
from operations.invokers import Handed, Invoker, InvokeRefused

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectTypeDef

ORDER = ("queued", "converted", "handed_off", "gone", "superseded", "skipped", "rejected", "failed")


@dataclass
class Summary:
    handed: Counter[str] = field(default_factory=Counter)
    """Objects handed over, by what became of them (``Handed.status``; ``would`` in a dry run)."""
    not_avi: int = 0
    tagged_rejected: int = 0
    """Sources the function rejected before (tagged), left alone."""

    @property
    def failures(self) -> int:
        return self.handed["rejected"] + self.handed["failed"]

    def line(self, main: str = "queued") -> str:
        """``main``: the status always shown (``queued`` by the function, ``converted`` here)."""
        if "would" in self.handed:
            done = f"would hand over {self.handed['would']}"
        else:
            shown = [s for s in ORDER if self.handed[s] or s in (main, "rejected", "failed")]
            done = ", ".join(f"{s.replace('_', ' ')} {self.handed[s]}" for s in shown)
        return f"{done}; skipped {self.not_avi} not .avi, {self.tagged_rejected} rejected before"


def listed(s3: S3Client, bucket: str, prefix: str) -> Iterator[ObjectTypeDef]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def rejected_before(s3: S3Client, bucket: str, key: str) -> str | None:
    """The error type the function tagged this source with when it rejected it, if it did."""
    tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return next((t["Value"] for t in tags if t["Key"] == REJECTED_TAG), None)


def backfill(s3: S3Client, bucket: str, prefix: str, invoke: Invoker | None, rate: float,
             report: Callable[[str, Handed], None] = lambda key, handed: None,
             retry_rejected: bool = False) -> Summary:  # fmt: skip
    """Hand each AVI under ``prefix`` to ``invoke`` (None: a dry run), at most ``rate`` a second;
    ``report(key, handed)`` hears of each one handed over or left alone."""
    summary = Summary()
    interval, next_at = 1.0 / rate, time.monotonic()
    for number, obj in enumerate(listed(s3, bucket, prefix)):
        key = obj["Key"]
        if not is_avi(key):
            summary.not_avi += 1
            continue
        if not retry_rejected and (error := rejected_before(s3, bucket, key)) is not None:
            summary.tagged_rejected += 1
            report(key, Handed("skipped", f"rejected before ({REJECTED_TAG}={error}); --retry-rejected hands it over"))
            continue
        if invoke is None:
            summary.handed["would"] += 1
            report(key, Handed("would hand over"))
            continue
        time.sleep(max(0.0, next_at - time.monotonic()))  # the bounded rate
        next_at = time.monotonic() + interval
        event = s3_event(bucket, key, obj["Size"], obj["ETag"].strip('"'), None, f"{number:016X}BACKFILL")
        try:
            handed = invoke(event)
        except InvokeRefused as exc:
            handed = Handed("failed", str(exc))
        summary.handed[handed.status] += 1
        report(key, handed)
    return summary
