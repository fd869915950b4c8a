"""The idempotency table, written by the steps that end a clip-job run: the event that started it
was answered "handed off"; its duplicates then get the run's real outcome, and a run that failed in
a way a retry may fix lets a later delivery convert the source again."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemNotFoundError

from avi2mp4.errors import StorageError
from handler.objects import ObjectResult


class IdempotencyLedger:
    """``persistence`` configured as the function's idempotent unit is (same key prefix and key)."""

    def __init__(self, persistence: BasePersistenceLayer) -> None:
        self.persistence = persistence

    def settle(self, identity: str, result: ObjectResult) -> None:
        """The request known by ``identity`` ended so: its duplicates answer this."""
        if identity:
            self.persistence.save_success(data={"identity": identity}, result=asdict(result))

    def forget(self, identity: str, why: Exception | None = None) -> None:
        """The request may be made again (its run failed; a retry may succeed)."""
        if identity:
            self.persistence.delete_record(data={"identity": identity}, exception=why or StorageError("run failed"))

    def held_until(self, identity: str) -> dt.datetime | None:
        """When the in-progress record of ``identity`` stops holding off other deliveries (None: no
        such record, or it cannot be read). A write whose answer was lost leaves one too: until
        then, every delivery answers "in progress", even with nothing converting."""
        try:
            record = self.persistence.get_record(data={"identity": identity})
        except IdempotencyItemNotFoundError:
            return None
        except Exception:  # only the wording of an error depends on it
            return None
        if record is None or record.in_progress_expiry_timestamp is None:
            return None
        return dt.datetime.fromtimestamp(float(record.in_progress_expiry_timestamp) / 1000, dt.UTC)
