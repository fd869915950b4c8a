"""A stop check for a run with a deadline (a Lambda invocation): it stops the conversion while there
is still time to clean up, since a kill at the timeout skips ``finally`` and would leave stored clips
and JPEGs without a manifest."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import TimeBudgetExceeded


class TimeBudget:
    def __init__(self, remaining_ms: Callable[[], int], reserve_seconds: float) -> None:
        self.remaining_ms, self.reserve = remaining_ms, reserve_seconds

    def check(self) -> None:
        left = self.remaining_ms() / 1000
        if left < self.reserve:
            raise TimeBudgetExceeded(
                f"the conversion needs more than this invocation's time (stopped with {left:.0f} s left to "
                "remove its outputs): give the function more memory (more CPU), or convert it with the CLI"
            )
