"""A Lambda context for running the handler in this process (backfill and redrive with ``--local``,
``avi2mp4 invoke``, the demo and the tests): the parts Powertools and the handler read."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import cast

from aws_lambda_powertools.utilities.typing import LambdaContext

REGION = "us-east-1"


@dataclass
class LocalContext:
    """The parts of the Lambda context that Powertools and the handler read."""

    function_name: str = "avi2mp4-local"
    memory_limit_in_mb: int = 3008
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:000000000000:function:avi2mp4-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_seconds: float = 900.0
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


def local_context() -> LambdaContext:
    """A LocalContext typed as what handlers expect (it has every attribute they read)."""
    return cast("LambdaContext", LocalContext())
