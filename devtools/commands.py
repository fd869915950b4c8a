"""Development commands of ``avi2mp4``, plugged in through the ``avi2mp4.commands`` entry points
(pyproject.toml), so the library's CLI never imports the AWS adapter or moto."""

from __future__ import annotations

import argparse
import os
from typing import Any


def register_invoke(sub: Any) -> None:
    invoke: argparse.ArgumentParser = sub.add_parser(
        "invoke",
        help="run the Lambda handler on an S3 event file (against AWS_ENDPOINT_URL)",
        epilog="Settings come from the environment, as the function's. Exit codes: 0 done, 1 the handler "
        "failed, 2 usage error (no local endpoint without AVI2MP4_ALLOW_AWS=1).",
    )
    invoke.add_argument("event", metavar="EVENT.json", help="an S3 event, like those in events/")
    invoke.set_defaults(run=_invoke)


def register_demo(sub: Any) -> None:
    demo: argparse.ArgumentParser = sub.add_parser(
        "demo", help="the S3 -> Lambda flow (one pass, and clip jobs on Step Functions) on an embedded local AWS"
    )
    demo.add_argument("--seconds", type=float, default=250.0,
                      help="length of the long AVI (default 250; over 240 to be cut into clip jobs)")  # fmt: skip
    demo.set_defaults(run=_demo)


def _invoke(args: argparse.Namespace) -> int:
    from pathlib import Path

    from devtools.invoke import invoke_file

    return invoke_file(Path(args.event), dict(os.environ))


def _demo(args: argparse.Namespace) -> int:
    from devtools.demo import run_demo

    return run_demo(seconds=args.seconds)
