"""CloudWatch metrics (Powertools, embedded metric format) and the log line of each outcome.

One namespace; per object what was decoded, kept, dropped and how fast, and the outcome. They are
recorded where the outcome happens (the conversion tells the observer once), so a duplicate event
answered from the idempotency table counts nothing twice, and a long recording is counted by the
step that ends it (finish, the clean-up, the one pass it fell back to) with the same names, units
and dimensions as a one-pass conversion. Every entry point flushes them at its end
(``metrics.log_metrics``). README shows the CloudWatch query for "frames dropped by reason this week".
"""

from __future__ import annotations

from collections import Counter

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from avi2mp4.conversion.outcome import Converted, Failed, FallBack, HandedOff, Outcome, Rejected, Skipped
from handler import SERVICE

NAMESPACE = "avi2mp4"
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
logger = Logger(service=SERVICE, child=True)


class MetricsObserver:
    """The function's observer: a metric set and a log line per outcome."""

    def outcome(self, outcome: Outcome) -> None:
        match outcome:
            case Converted():
                logger.info("converted", extra={"manifest": outcome.manifest.location, "path": outcome.path,
                                                "clips": len(outcome.clips), "jpegs": len(outcome.images),
                                                "source_deleted": outcome.source_deleted})  # fmt: skip
                record_conversion(outcome)
            case Rejected():
                logger.warning(f"rejected, source kept: {outcome.why}", extra={"error_type": outcome.error})
                record_outcome("rejected")
            case Failed():
                logger.error(f"conversion failed, outputs removed, source kept: {outcome.error}: {outcome.reason}",
                             extra={"error_type": outcome.error})  # fmt: skip
                record_outcome("failed")
            case HandedOff():
                logger.info("handed to clip jobs", extra={"execution": outcome.run, "clips": len(outcome.plan.clips),
                                                          "frames": outcome.plan.frames})  # fmt: skip
                record_outcome("handed_off")
            case Skipped():
                logger.info(f"nothing to do: {outcome.status} ({outcome.reason})")
            case FallBack():
                logger.warning(f"cannot be cut exactly ({outcome.why}); one pass follows")
                record_outcome("fell_back")


def record_clip_job(seconds: float) -> None:
    """A clip job's wall time (the per-object figures come from the step that ends its run)."""
    metrics.add_metric(name="ClipJobSeconds", unit=MetricUnit.Seconds, value=seconds)


def record_conversion(done: Converted) -> None:
    metrics.add_metric(name="FramesDecoded", unit=MetricUnit.Count, value=done.frames)
    metrics.add_metric(name="JpegsKept", unit=MetricUnit.Count, value=len(done.images))
    metrics.add_metric(name="DecodeErrors", unit=MetricUnit.Count, value=done.decode_errors)
    metrics.add_metric(name="MediaSeconds", unit=MetricUnit.Seconds, value=done.duration_seconds)
    metrics.add_metric(name="ConversionSeconds", unit=MetricUnit.Seconds, value=done.seconds)
    metrics.add_metric(name="RealtimeFactor", unit=MetricUnit.NoUnit,
                       value=done.duration_seconds / done.seconds if done.seconds > 0 else 0.0)  # fmt: skip
    metrics.add_metric(name="BytesIn", unit=MetricUnit.Bytes, value=done.source.size)
    stored = [*done.clips, *done.images, done.manifest]
    metrics.add_metric(name="BytesOut", unit=MetricUnit.Bytes, value=sum(o.size for o in stored))
    for reason, count in sorted(Counter(d.reason for d in done.dead_frames).items()):
        # A dimension per reason: one metric set each (EMF shares dimensions within a set).
        with single_metric(name="DeadFrames", unit=MetricUnit.Count, value=count, namespace=NAMESPACE,
                           default_dimensions={"service": SERVICE, "reason": reason}):  # fmt: skip
            pass
    record_outcome("converted")


def record_outcome(outcome: str) -> None:
    """``converted``, ``rejected`` (bad input, not retried), ``failed`` (a retry may help), ``handed_off``
    (a long recording's clip jobs started) or ``fell_back`` (they found it cannot be cut: one pass)."""
    with single_metric(name="Objects", unit=MetricUnit.Count, value=1, namespace=NAMESPACE,
                       default_dimensions={"service": SERVICE, "outcome": outcome}):  # fmt: skip
        pass


def record_unpublished() -> None:
    """A completion event EventBridge did not take (the conversion itself is done)."""
    metrics.add_metric(name="EventsNotPublished", unit=MetricUnit.Count, value=1)
