"""Who converts what backfill and redrive hand over: the deployed function (an asynchronous
invoke, as S3 itself invokes it) or, for a workstation draining a bucket, the handler in this
process (the same idempotency, verification and source deletion). Either says what became of the
event (``Handed``): the function only that it was queued, this process the outcome itself."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

FAILURES = ("rejected", "failed")


@dataclass(frozen=True)
class Handed:
    """What became of one event: ``queued`` (the function took it), or this process's outcome:
    ``converted``, ``handed_off`` (clip jobs), ``gone``, ``superseded``, ``skipped``, ``rejected``
    (bad input, a retry cannot help) or ``failed`` (a retry may)."""

    status: str
    detail: str = ""

    @property
    def failure(self) -> bool:
        return self.status in FAILURES


class Invoker(Protocol):
    def __call__(self, event: dict[str, Any]) -> Handed:
        """Hand ``event`` over; raise InvokeRefused if it was not accepted."""
        ...


class InvokeRefused(Exception):
    """The function did not accept the event."""


class FunctionInvoker:
    """Asynchronous invoke of the deployed function: accepted when Lambda answers 202."""

    def __init__(self, client: LambdaClient, function: str) -> None:
        self.client, self.function = client, function

    def __call__(self, event: dict[str, Any]) -> Handed:
        try:
            answer = self.client.invoke(FunctionName=self.function, InvocationType="Event",
                                        Payload=json.dumps(event).encode())  # fmt: skip
        except (ClientError, BotoCoreError) as exc:
            raise InvokeRefused(f"{self.function}: {exc}") from exc
        if answer["StatusCode"] != 202:
            raise InvokeRefused(f"{self.function} answered {answer['StatusCode']}")
        return Handed("queued", self.function)


class LocalInvoker:
    """The handler in this process, with its settings from the environment (as the function's),
    read once here: a missing or bad setting is one ConfigError before any object. Its JSON logs go
    to stderr with ``verbose``, else nowhere: the result lines say what happened."""

    def __init__(self, verbose: bool = False) -> None:
        from handler import app

        app.default_runtime()
        quiet_function_logs(verbose)
        self._handle, self.verbose = app.lambda_handler, verbose

    def __call__(self, event: dict[str, Any]) -> Handed:
        from operations.context import local_context

        try:
            with function_output(self.verbose):
                answer = self._handle(event, local_context())
        except Exception as exc:  # ConversionFailed: a retry may help (the handler logged it)
            return Handed("failed", f"{type(exc).__name__}: {exc}")
        return handed(answer)


def handed(answer: dict[str, Any]) -> Handed:
    """The handler's answer for a one-object event, as one ``Handed``."""
    found = each_handed(answer)
    return found[0][1] if found else Handed("failed", f"the handler answered nothing for it: {answer}")


def each_handed(answer: dict[str, Any]) -> list[tuple[str, Handed]]:
    """Every object of the handler's answer (``s3://bucket/key``) with what became of it."""
    found = []
    for group in ("done", "rejected", "skipped"):
        for item in answer.get(group, []):
            status = "skipped" if group == "skipped" else str(item.get("status") or group)
            detail = item.get("manifest") or item.get("execution") or item.get("reason") or ""
            if status == "rejected":
                detail = item.get("reason") or detail
            found.append((f"s3://{item.get('bucket')}/{item.get('key')}", Handed(status, str(detail))))
    return found


def function_output(verbose: bool) -> contextlib.AbstractContextManager[object]:
    """Where what the handler prints goes while it runs (Powertools prints its EMF metric lines):
    stderr with ``verbose``, else nowhere; stdout is the commands' result lines."""
    return contextlib.redirect_stdout(sys.stderr if verbose else io.StringIO())


def quiet_function_logs(verbose: bool) -> None:
    """The handler's Powertools logs (JSON, to stdout by default) on stderr with ``verbose``, else
    nowhere: the commands' result lines say what happened."""
    route_function_logs(sys.stderr, logging.INFO if verbose else logging.CRITICAL + 1)


def route_function_logs(stream: TextIO, level: int | None = None) -> list[tuple[logging.StreamHandler[TextIO], TextIO]]:
    """Point the handler's Powertools log handlers at ``stream`` (``level``: set on the handler, not the
    logger, since Powertools' child loggers set their own level and propagate). Returns each handler
    with the stream it had, to put back."""
    from handler import SERVICE

    before = []
    for handler in logging.getLogger(SERVICE).handlers:
        if isinstance(handler, logging.StreamHandler):
            previous = handler.setStream(stream)
            before.append((handler, previous or stream))
            if level is not None:
                handler.setLevel(level)
    return before
