"""``avi2mp4 invoke EVENT.json``: the Lambda handler on one event file, like ``sam local invoke -e``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from devtools.local_aws import local_context

SERVICES = ("S3", "DYNAMODB")


def local_endpoints(env: dict[str, str]) -> bool:
    """Whether boto3 will talk to local endpoints for every service the handler uses:
    ``AWS_ENDPOINT_URL``, or ``AWS_ENDPOINT_URL_S3`` and ``AWS_ENDPOINT_URL_DYNAMODB``."""
    return bool(env.get("AWS_ENDPOINT_URL")) or all(env.get(f"AWS_ENDPOINT_URL_{s}") for s in SERVICES)


def invoke_file(event_path: Path, env: dict[str, str]) -> int:
    """``avi2mp4 invoke``: the handler on one event file, like ``sam local invoke -e``."""
    if not local_endpoints(env) and env.get("AVI2MP4_ALLOW_AWS") != "1":
        missing = [f"AWS_ENDPOINT_URL_{s}" for s in SERVICES if not env.get(f"AWS_ENDPOINT_URL_{s}")]
        print(f"avi2mp4: neither AWS_ENDPOINT_URL nor {' and '.join(missing)} is set, so this would use "
              "real AWS; set AVI2MP4_ALLOW_AWS=1 to mean it.", file=sys.stderr)  # fmt: skip
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
