"""Development commands of ``avi2mp4``, plugged in through the ``avi2mp4.commands`` entry points
(pyproject.toml), so the library's CLI never imports the AWS adapter or moto."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any


def register_invoke(sub: Any) -> None:
    invoke: argparse.ArgumentParser = sub.add_parser(
        "invoke",
        help="run the Lambda handler on an S3 event file (against AWS_ENDPOINT_URL)",
        epilog="Settings come from the environment, as the function's. Exit codes: 0 done, 1 an object was "
        "rejected or failed, 2 usage error (a missing setting; no local endpoint without AVI2MP4_ALLOW_AWS=1).",
    )
    invoke.add_argument("event", metavar="EVENT.json", help="an S3 event, like those in events/")
    invoke.add_argument("--json", action="store_true", help="print the handler's whole answer as JSON")
    invoke.add_argument("-v", "--verbose", action="store_true", help="the function's JSON logs on stderr")
    invoke.set_defaults(run=_invoke)


def register_demo(sub: Any) -> None:
    demo: argparse.ArgumentParser = sub.add_parser(
        "demo", help="the S3 -> Lambda flow (one pass, and clip jobs on Step Functions) on an embedded local AWS"
    )
    demo.add_argument("--seconds", type=float, default=250.0,
                      help="length of the long AVI (default 250; over 240 to be cut into clip jobs)")  # fmt: skip
    demo.add_argument("--out", type=Path, default=Path("demo-output"),
                      help="the folder the outputs and the function's JSON logs are kept in "
                           "(default demo-output/)")  # fmt: skip
    demo.set_defaults(run=_demo)


def register_sandbox(sub: Any) -> None:
    sandbox: argparse.ArgumentParser = sub.add_parser(
        "sandbox", help="the stack on loopback (S3, DynamoDB, SQS, EventBridge, Step Functions, the functions) "
        "until Ctrl-C, for backfill, redrive and invoke",
        description="Starts the local AWS services and the three functions, creates the stack's buckets, table, "
        "queues and state machine, prints the export lines for another shell, and stays up until Ctrl-C.",
    )  # fmt: skip
    sandbox.add_argument("--port", type=int, default=4566, help="the local AWS endpoint's port (default 4566; 0: any)")
    sandbox.set_defaults(run=_sandbox)


def _sandbox(args: argparse.Namespace) -> int:
    from devtools.sandbox import run_sandbox

    return run_sandbox(args.port)


def _invoke(args: argparse.Namespace) -> int:
    from devtools.invoke import invoke_file

    return invoke_file(Path(args.event), dict(os.environ), verbose=args.verbose, as_json=args.json)


def _demo(args: argparse.Namespace) -> int:
    from devtools.demo import run_demo

    return run_demo(seconds=args.seconds, out=args.out)
