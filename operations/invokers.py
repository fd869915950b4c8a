"""Who converts what backfill and redrive hand over: the deployed function (an asynchronous
invoke, as S3 itself invokes it) or, for a workstation draining a bucket, the handler in this
process (the same idempotency, verification and source deletion)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


class Invoker(Protocol):
    def __call__(self, event: dict[str, Any]) -> None:
        """Hand ``event`` over; raise if it was not accepted."""
        ...


class InvokeRefused(Exception):
    """The function did not accept the event."""


class FunctionInvoker:
    """Asynchronous invoke of the deployed function: accepted when Lambda answers 202."""

    def __init__(self, client: LambdaClient, function: str) -> None:
        self.client, self.function = client, function

    def __call__(self, event: dict[str, Any]) -> None:
        try:
            answer = self.client.invoke(FunctionName=self.function, InvocationType="Event",
                                        Payload=json.dumps(event).encode())  # fmt: skip
        except (ClientError, BotoCoreError) as exc:
            raise InvokeRefused(f"{self.function}: {exc}") from exc
        if answer["StatusCode"] != 202:
            raise InvokeRefused(f"{self.function} answered {answer['StatusCode']}")


class LocalInvoker:
    """The handler in this process, with its settings from the environment (LOCAL_RUN)."""

    def __call__(self, event: dict[str, Any]) -> None:
        from handler.app import lambda_handler
        from operations.context import local_context

        try:
            lambda_handler(event, local_context())
        except Exception as exc:  # the handler logged it; the summary counts it
            raise InvokeRefused(f"{type(exc).__name__}: {exc}") from exc
