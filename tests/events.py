"""Load the sample events in events/ (the same files `sam local invoke -e` takes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parent.parent / "events"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def retarget(event: dict[str, Any], bucket: str, etag: str | None = None) -> dict[str, Any]:
    """The sample with its bucket replaced (keys stay as they are, encoded)."""
    for record in event["Records"]:
        record["s3"]["bucket"]["name"] = bucket
        record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
        if etag:
            record["s3"]["object"]["eTag"] = etag
    return event
