"""``avi2mp4 backfill`` and ``avi2mp4 redrive``, plugged into the CLI by entry point."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from tqdm import tqdm

from avi2mp4.errors import ConfigError
from operations.safety import source_buckets

EPILOG = "exit codes: 0 all handed over, 1 some failed, 2 usage error"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--function", metavar="NAME", help="the deployed function (name or ARN)")
    p.add_argument("--local", action="store_true",
                   help="convert in this process instead (settings from the environment, as the function)")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="list what would be handed over; change nothing")


def register_backfill(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "backfill", help="have every AVI already in a bucket converted", epilog=EPILOG,
        description="List the AVIs (any case of .avi) under a prefix and have each converted by the deployed "
        "function (or --local), at a bounded rate. For millions of objects use S3 Batch Operations (README).",
    )  # fmt: skip
    p.add_argument("--bucket", required=True, help="the source bucket")
    p.add_argument("--prefix", default="", help="only keys under this prefix")
    p.add_argument("--rate", type=float, default=5.0, help="objects handed over per second (default 5)")
    _common(p)
    p.set_defaults(run=_backfill)


def register_redrive(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "redrive", help="invoke again the events on the function's failure queue", epilog=EPILOG,
        description="Take the events Lambda put on the on-failure queue and invoke them again; a message is "
        "deleted only once its re-invocation was accepted.",
    )  # fmt: skip
    p.add_argument("--queue", required=True, metavar="URL", help="the FailureQueueUrl output of the stack")
    _common(p)
    p.set_defaults(run=_redrive)


def _invoker(args: argparse.Namespace, default_function: str | None = None) -> Any:
    from operations.invokers import FunctionInvoker, LocalInvoker
    from operations.safety import require_local_or_consent

    if args.dry_run:
        return None
    if args.local:
        # This process converts and deletes with the operator's credentials: on a real account only
        # when asked to in so many words, as `avi2mp4 invoke` requires.
        require_local_or_consent(dict(os.environ), "--local")
        return LocalInvoker()
    function = args.function or default_function
    if not function:
        raise ConfigError("--function NAME is required (or --local, or --dry-run)")
    import boto3

    return FunctionInvoker(boto3.client("lambda"), function)


def _backfill(args: argparse.Namespace) -> int:
    import boto3

    from operations.backfill import backfill

    if args.rate <= 0:
        raise ConfigError(f"--rate {args.rate}: must be > 0")
    allowed = source_buckets(dict(os.environ))
    if allowed and args.bucket not in allowed:
        raise ConfigError(f"--bucket {args.bucket}: not a source bucket of the stack (SOURCE_BUCKETS: "
                          f"{', '.join(allowed)})")  # fmt: skip
    invoke = _invoker(args)
    with tqdm(desc=f"s3://{args.bucket}/{args.prefix}", unit=" objects", file=sys.stderr,
              disable=not sys.stderr.isatty()) as bar:  # fmt: skip
        summary = backfill(boto3.client("s3"), args.bucket, args.prefix, invoke, args.rate,
                           progress=lambda key: bar.update(1))  # fmt: skip
    for failure in summary.failed:
        print(f"failed {failure}", file=sys.stderr)
    print(summary.line("would queue" if invoke is None else "queued"))
    return 1 if summary.failed else 0


def _redrive(args: argparse.Namespace) -> int:
    import boto3

    from operations.redrive import redrive

    invoke = _invoker(args)  # its checks come before any client is made
    summary = redrive(boto3.client("sqs"), args.queue, invoke, source_buckets(dict(os.environ)))
    for kept in summary.kept:
        print(f"kept {kept}", file=sys.stderr)
    print(summary.line("would redrive" if args.dry_run else "redriven"))
    return 1 if summary.kept else 0
