"""``avi2mp4 backfill`` and ``avi2mp4 redrive``, plugged into the CLI by entry point."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from tqdm import tqdm

from avi2mp4.errors import ConfigError
from operations.safety import source_buckets

EPILOG = (
    "exit codes: 0 all handed over (and, with --local, converted), 1 some rejected, failed or left on the "
    "queue, 2 usage error (a missing setting, no credentials)"
)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--function", metavar="NAME", help="the deployed function (name or ARN)")
    p.add_argument("--local", action="store_true",
                   help="convert in this process instead (settings from the environment, as the function)")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="list what would be handed over; change nothing")
    p.add_argument("-v", "--verbose", action="store_true", help="the function's JSON logs on stderr (with --local)")


def register_backfill(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "backfill", help="have every AVI already in a bucket converted", epilog=EPILOG,
        description="List the AVIs (any case of .avi) under a prefix and have each converted by the deployed "
        "function (or --local), at a bounded rate. For millions of objects use S3 Batch Operations (README).",
    )  # fmt: skip
    p.add_argument("--bucket", required=True, help="the source bucket")
    p.add_argument("--prefix", default="", help="only keys under this prefix")
    p.add_argument("--rate", type=float, default=5.0, help="objects handed over per second (default 5)")
    p.add_argument("--retry-rejected", action="store_true",
                   help="hand over sources the function rejected before (tagged avi2mp4-rejected) too")  # fmt: skip
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

    if args.dry_run:
        return None
    if args.local:  # _may_run_here has let it run here
        return LocalInvoker(verbose=args.verbose)
    function = args.function or default_function
    if not function:
        raise ConfigError("--function NAME is required (or --local, or --dry-run)")
    return FunctionInvoker(client("lambda"), function)


def _may_run_here(args: argparse.Namespace) -> None:
    """``--local`` converts and deletes with the operator's credentials: on a real account only when
    asked to in so many words, as `avi2mp4 invoke` requires. Checked before anything else."""
    from operations.safety import require_local_or_consent

    if args.local and not args.dry_run:
        require_local_or_consent(dict(os.environ), "--local")


def client(service: str) -> Any:
    """A boto3 client, or one line saying why there cannot be one (checked before any object)."""
    import boto3
    from botocore.exceptions import BotoCoreError

    session = boto3.session.Session()
    if session.get_credentials() is None:
        raise ConfigError("no AWS credentials found (environment, ~/.aws, or an instance role); for the local "
                          "sandbox, run the export lines `avi2mp4 sandbox` prints")  # fmt: skip
    try:
        return session.client(service)  # type: ignore[call-overload]
    except BotoCoreError as exc:  # NoRegionError, a bad endpoint URL
        raise ConfigError(f"cannot make an {service} client: {exc} (set AWS_DEFAULT_REGION)") from exc


def _line(what: str, handed: Any) -> None:
    from avi2mp4.cli.convert import shown

    detail = f": {shown(handed.detail)}" if handed.detail else ""
    print(f"{handed.status.replace('_', ' ')} {shown(what)}{detail}", flush=True)


def _listing_error(bucket: str, prefix: str, exc: Exception) -> ConfigError:
    return ConfigError(f"cannot list s3://{bucket}/{prefix}: {exc}")


def _backfill(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from operations.backfill import backfill

    if args.rate <= 0:
        raise ConfigError(f"--rate {args.rate}: must be > 0")
    allowed = source_buckets(dict(os.environ))
    if allowed and args.bucket not in allowed:
        raise ConfigError(f"--bucket {args.bucket}: not a source bucket of the stack (SOURCE_BUCKETS: "
                          f"{', '.join(allowed)})")  # fmt: skip
    _may_run_here(args)
    s3 = client("s3")
    try:  # one request before any object: no access is one line, not a traceback per object
        s3.list_objects_v2(Bucket=args.bucket, Prefix=args.prefix, MaxKeys=1)
    except (BotoCoreError, ClientError) as exc:
        raise _listing_error(args.bucket, args.prefix, exc) from exc
    invoke = _invoker(args)
    with tqdm(desc=f"s3://{args.bucket}/{args.prefix}", unit=" objects", file=sys.stderr,
              disable=not sys.stderr.isatty(), leave=False) as bar:  # fmt: skip

        def report(key: str, handed: Any) -> None:
            bar.clear()
            _line(f"s3://{args.bucket}/{key}", handed)
            bar.update(1)

        summary = backfill(s3, args.bucket, args.prefix, invoke, args.rate, report, args.retry_rejected)
    print(summary.line("converted" if args.local else "queued"))
    return 1 if summary.failures else 0


def _redrive(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from operations.redrive import redrive

    _may_run_here(args)
    sqs = client("sqs")
    invoke = _invoker(args)
    try:
        summary = redrive(sqs, args.queue, invoke, source_buckets(dict(os.environ)), _line)
    except (BotoCoreError, ClientError) as exc:
        raise ConfigError(f"cannot read the queue {args.queue}: {exc}") from exc
    print(summary.line("would redrive" if args.dry_run else "redriven"))
    return 1 if summary.kept or summary.failures else 0
