"""``avi2mp4 redrive``: the events Lambda put on the on-failure queue (each message carries the
original event as ``requestPayload``), invoked again; a message is deleted only after its
re-invocation was accepted, so nothing is lost if this stops half-way."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from operations.invokers import Handed, Invoker, InvokeRefused

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@dataclass
class RedriveSummary:
    redriven: int = 0
    kept: list[str] = field(default_factory=list)
    """Messages left on the queue, and why."""
    failures: int = 0
    """Redriven events this process converted and rejected (a failure again stays on the queue)."""

    def line(self, verb: str = "redriven") -> str:
        again = f" ({self.failures} rejected)" if self.failures else ""
        return f"{verb} {self.redriven}{again}, left on the queue {len(self.kept)}"


def original_event(body: str) -> dict[str, Any]:
    """The event inside a Lambda on-failure destination record."""
    try:
        record = json.loads(body)
    except ValueError:
        raise ValueError("not a Lambda on-failure record (not JSON)") from None
    payload = record.get("requestPayload") if isinstance(record, dict) else None
    if not isinstance(payload, dict):
        raise ValueError("not a Lambda on-failure record (no requestPayload)")
    return payload


def foreign_buckets(event: dict[str, Any], allowed: tuple[str, ...]) -> list[str]:
    """The buckets an S3 event names that are not the stack's sources (``allowed``; empty: any)."""
    records = event.get("Records")
    if not isinstance(records, list) or not records:
        raise ValueError("not an S3 event (no Records)")
    names = [str(((r.get("s3") or {}).get("bucket") or {}).get("name")) for r in records if isinstance(r, dict)]
    return [n for n in names if allowed and n not in allowed]


def named(event: dict[str, Any]) -> str | None:
    """``s3://bucket/key`` of the (first) object an S3 event names."""
    try:
        s3 = event["Records"][0]["s3"]
        return f"s3://{s3['bucket']['name']}/{unquote_plus(s3['object']['key'])}"
    except (KeyError, IndexError, TypeError):
        return None


def redrive(sqs: SQSClient, queue_url: str, invoke: Invoker | None, allowed: tuple[str, ...] = (),
            report: Callable[[str, Handed], None] = lambda what, handed: None) -> RedriveSummary:  # fmt: skip
    """Every message on the queue, once (``invoke`` None: a dry run that changes nothing). A message
    naming a bucket that is not the stack's source (``allowed``) stays, and is reported: anyone able
    to send to the queue could have put it there. ``report(what, handed)`` hears of each message:
    ``what`` is the object it names (or the message id), ``handed`` what became of it."""
    summary, seen = RedriveSummary(), set()
    give_back: list[str] = []  # receipts of messages that stay: visible again once we are done
    while True:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                     VisibilityTimeout=300)  # fmt: skip
        fresh = [m for m in answer.get("Messages", []) if m["MessageId"] not in seen]
        give_back += [m["ReceiptHandle"] for m in answer.get("Messages", []) if m["MessageId"] in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            what = f"message {message['MessageId']}"
            try:
                event = original_event(message["Body"])
                what = named(event) or what
                foreign = foreign_buckets(event, allowed)
                if foreign:
                    raise ValueError(f"names {', '.join(foreign)}, not a source bucket of the stack")
                if invoke is None:
                    give_back.append(message["ReceiptHandle"])
                    handed = Handed("would redrive")
                else:
                    handed = invoke(event)
                    if handed.status == "failed":  # converted here and failed again: it stays to be redriven
                        raise InvokeRefused(f"failed again: {handed.detail}")
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                    summary.failures += handed.failure  # rejected: recorded and tagged, not worth a retry
                summary.redriven += 1
            except (ValueError, InvokeRefused) as exc:
                give_back.append(message["ReceiptHandle"])
                summary.kept.append(f"{message['MessageId']}: {exc}")
                handed = Handed("kept on the queue", str(exc))
            report(what, handed)
    for receipt in give_back:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
    return summary
