"""``avi2mp4 invoke EVENT.json``: the Lambda handler on one event file, like ``sam local invoke -e``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from avi2mp4.errors import ConfigError
from devtools.local_aws import local_context
from operations.safety import require_local_or_consent


def invoke_file(event_path: Path, env: dict[str, str]) -> int:
    """``avi2mp4 invoke``: the handler on one event file, like ``sam local invoke -e``."""
    try:
        require_local_or_consent(env, "invoke")
    except ConfigError as exc:
        print(f"avi2mp4: {exc}", file=sys.stderr)
        return 2
    from handler.app import lambda_handler

    try:
        event = json.loads(event_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        print(f"avi2mp4: cannot read {event_path}: {exc}", file=sys.stderr)
        return 2
    try:
        result = lambda_handler(event, local_context())
    except Exception as exc:
        print(f"avi2mp4: the handler failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0
