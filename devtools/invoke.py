"""``avi2mp4 invoke EVENT.json``: the Lambda handler on one event file, like ``sam local invoke -e``:
one result line per object on stdout, a summary, the function's JSON logs on stderr with ``-v``."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from avi2mp4.cli.convert import shown
from avi2mp4.errors import ConfigError
from devtools.local_aws import local_context
from operations.invokers import each_handed, function_output, quiet_function_logs
from operations.safety import require_local_or_consent


def invoke_file(event_path: Path, env: dict[str, str], verbose: bool = False, as_json: bool = False) -> int:
    """Exit 0 when every object was converted (or skipped, or handed to clip jobs), 1 when one was
    rejected or failed, 2 for what stops it before the handler runs."""
    try:
        require_local_or_consent(env, "invoke")
        event = json.loads(event_path.read_text())
        from handler.app import default_runtime, lambda_handler

        default_runtime()  # a missing or bad setting: one line, before any object
    except ConfigError as exc:
        print(f"avi2mp4: {exc}", file=sys.stderr)
        return 2
    except (OSError, json.JSONDecodeError) as exc:
        print(f"avi2mp4: cannot read {event_path}: {exc}", file=sys.stderr)
        return 2
    quiet_function_logs(verbose)
    try:
        with function_output(verbose):
            result = lambda_handler(event, local_context())
    except Exception as exc:  # ConversionFailed names each object that failed
        print(f"failed: {shown(type(exc).__name__)}: {shown(exc)}")
        print("1 failed")
        return 1
    if as_json:
        print(json.dumps(result, indent=2))
    counts: Counter[str] = Counter()
    for what, handed in each_handed(result):
        counts[handed.status] += 1
        if not as_json:
            detail = f": {shown(handed.detail)}" if handed.detail else ""
            print(f"{handed.status.replace('_', ' ')} {shown(what)}{detail}")
    summary = ", ".join(f"{status.replace('_', ' ')} {n}" for status, n in sorted(counts.items())) or "no objects"
    print(summary, file=sys.stderr if as_json else sys.stdout)
    return 1 if counts["rejected"] or counts["failed"] else 0
