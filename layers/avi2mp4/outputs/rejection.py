"""The rejection record: why a source was not converted, where its manifest would have been."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime

from .. import __version__
from ..storage.port import SourceRef
from .names import display_key


def rejection_record(source: SourceRef, error: str, reason: str) -> bytes:
    return json.dumps({
        "source": {**asdict(source), "key": display_key(source.key)},
        "status": "rejected", "error": error, "reason": reason,
        "rejected_at": datetime.now(UTC).isoformat(timespec="seconds"), "software": {"avi2mp4": __version__},
    }, indent=2, ensure_ascii=False).encode()  # fmt: skip
