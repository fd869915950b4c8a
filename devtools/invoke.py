"""``avi2mp4 invoke EVENT.json``: the Lambda handler on one event file, like ``sam local invoke -e``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from devtools.local_aws import local_context


def invoke_file(event_path: Path, endpoint: str | None) -> int:
    """``avi2mp4 invoke``: the handler on one event file, like ``sam local invoke -e``."""
    from handler.app import lambda_handler

    if not endpoint:
        print("avi2mp4: AWS_ENDPOINT_URL is not set; this would talk to real AWS.", file=sys.stderr)
        if os.environ.get("AVI2MP4_ALLOW_AWS") != "1":
            print("set AVI2MP4_ALLOW_AWS=1 to allow that.", file=sys.stderr)
            return 2
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
