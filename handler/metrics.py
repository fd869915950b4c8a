"""CloudWatch metrics (Powertools, embedded metric format): one namespace, per object what was
decoded, kept, dropped and how fast, and the outcome. Emitted where the work happens, so a
duplicate event answered from the idempotency table counts nothing twice.

The handler flushes them at the end of each invocation (``metrics.log_metrics``), with the cold
start metric. README shows the CloudWatch query for "frames dropped by reason this week".
"""

from __future__ import annotations

from collections import Counter

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from avi2mp4.job import JobResult
from handler import SERVICE

NAMESPACE = "avi2mp4"
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def record_conversion(job: JobResult, bytes_in: int) -> None:
    r = job.result
    metrics.add_metric(name="FramesDecoded", unit=MetricUnit.Count, value=r.frames_decoded)
    metrics.add_metric(name="JpegsKept", unit=MetricUnit.Count, value=len(job.images))
    metrics.add_metric(name="DecodeErrors", unit=MetricUnit.Count, value=r.decode_errors)
    metrics.add_metric(name="MediaSeconds", unit=MetricUnit.Seconds, value=r.duration_seconds)
    metrics.add_metric(name="ConversionSeconds", unit=MetricUnit.Seconds, value=job.seconds)
    metrics.add_metric(name="RealtimeFactor", unit=MetricUnit.NoUnit,
                       value=r.duration_seconds / job.seconds if job.seconds > 0 else 0.0)  # fmt: skip
    metrics.add_metric(name="BytesIn", unit=MetricUnit.Bytes, value=bytes_in)
    stored = [*job.clips, *job.images, job.manifest_object]
    metrics.add_metric(name="BytesOut", unit=MetricUnit.Bytes, value=sum(o.size for o in stored))
    for reason, count in sorted(Counter(d.reason for d in r.dead_frames).items()):
        # A dimension per reason: one metric set each (EMF shares dimensions within a set).
        with single_metric(name="DeadFrames", unit=MetricUnit.Count, value=count, namespace=NAMESPACE,
                           default_dimensions={"service": SERVICE, "reason": reason}):  # fmt: skip
            pass
    record_outcome("converted")


def record_outcome(outcome: str) -> None:
    """``converted``, ``rejected`` (bad input, not retried) or ``failed`` (retried by Lambda)."""
    with single_metric(name="Objects", unit=MetricUnit.Count, value=1, namespace=NAMESPACE,
                       default_dimensions={"service": SERVICE, "outcome": outcome}):  # fmt: skip
        pass
