"""Completion events to EventBridge (``EVENT_BUS_NAME``): the observer that publishes what
``avi2mp4.conversion.events`` says an outcome holds.

Publishing comes after the outcome is final (the manifest written, the source deleted or kept). A
failure to publish is logged and counted (metric ``EventsNotPublished``), never raised: the
conversion is done, and retrying it would not bring the event back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from avi2mp4.conversion.events import SOURCE, event_of
from avi2mp4.conversion.outcome import Outcome
from handler import SERVICE
from handler.metrics import record_unpublished

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

logger = Logger(service=SERVICE, child=True)


class EventBridgeObserver:
    """Publishes each final outcome as one event on ``bus`` (a name or ARN)."""

    def __init__(self, client: EventBridgeClient, bus: str) -> None:
        self.client, self.bus = client, bus

    def outcome(self, outcome: Outcome) -> None:
        event = event_of(outcome)
        if event is None:
            return
        entry = {"Source": SOURCE, "DetailType": event.detail_type, "Detail": event.detail_json(),
                 "EventBusName": self.bus}  # fmt: skip
        try:
            answer = self.client.put_events(Entries=[entry])  # type: ignore[list-item]
        except (BotoCoreError, ClientError) as exc:
            self._lost(event.detail_type, str(exc))
            return
        if answer.get("FailedEntryCount"):
            failed = answer["Entries"][0]
            self._lost(event.detail_type, f"{failed.get('ErrorCode')}: {failed.get('ErrorMessage')}")
            return
        logger.info("event published", extra={"detail_type": event.detail_type, "event_bus": self.bus})

    def _lost(self, detail_type: str, why: str) -> None:
        logger.error(f"could not publish {detail_type!r} to {self.bus}: {why}",
                     extra={"detail_type": detail_type, "event_bus": self.bus})  # fmt: skip
        record_unpublished()
