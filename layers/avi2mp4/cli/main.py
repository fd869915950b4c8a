"""avi2mp4: convert local AVI files with the same pipeline as the Lambda function.

Commands beyond ``convert`` (``invoke``, ``demo``) are development tools that plug in through the
``avi2mp4.commands`` entry point group, so the library never imports them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ConfigError
from ..settings import DeadFrameThresholds, PipelineConfig, entries, parse_text, renamed
from .convert import run_convert, shown

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2
COMMANDS_GROUP = "avi2mp4.commands"
EPILOG = "exit codes: 0 all converted (or skipped), 1 some inputs rejected or failed, 2 usage error"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    quoted = logging.StreamHandler()
    quoted.setFormatter(QuotingFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, handlers=[quoted])
    try:
        code: int = args.run(args)
    except ConfigError as exc:
        print(f"avi2mp4: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return code


class QuotingFormatter(logging.Formatter):
    """Log lines as the terminal may print them: a file name in a message cannot carry an escape
    sequence or a line break onto it (``convert.shown``)."""

    def format(self, record: logging.LogRecord) -> str:
        quoted = logging.makeLogRecord(record.__dict__)
        quoted.msg, quoted.args = shown(record.getMessage()), None  # a traceback keeps its lines
        return super().format(quoted)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avi2mp4", description=__doc__.split("\n\n")[0], epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"avi2mp4 {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    convert = sub.add_parser("convert", help="convert AVI files or folders of AVIs", epilog=EPILOG)
    convert.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="AVI file or folder")
    convert.add_argument("--out", "-o", type=Path, required=True, metavar="DIR",
                         help="output folder (video-mp4/ and unlabeled-images/ are made in it)")  # fmt: skip
    add_setting_flags(convert)
    convert.add_argument("--jobs", "-j", type=_jobs, default=1, metavar="N",
                         help="convert a long recording's clips on N processes at once (default 1: one pass); "
                              "recordings that are short or cannot be cut exactly take one pass")  # fmt: skip
    convert.add_argument("--json", action="store_true", help="print one JSON object per video")
    convert.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    convert.add_argument("--force", action="store_true",
                         help="convert inputs again whose outputs under --out are already of exactly this file "
                              "(size and SHA-256) with these settings (skipped by default)")  # fmt: skip
    convert.set_defaults(run=lambda args: run_convert(args, config_from_args(args)))

    plugins = {ep.name: ep for ep in reversed(list(entry_points(group=COMMANDS_GROUP)))}  # the first one wins
    for plugin in sorted(plugins.values(), key=lambda ep: ep.name):
        try:
            register: Callable[[Any], None] = plugin.load()
        except ImportError as exc:  # a plug-in installed without its code: `convert` still works
            print(f"avi2mp4: the {plugin.name} command is not available ({exc})", file=sys.stderr)
            continue
        register(sub)
    return parser


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if not 1 <= jobs <= 256:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number of processes, 1..256")
    return jobs


def add_setting_flags(p: argparse.ArgumentParser) -> None:
    """One flag per pipeline setting that has one, from its definition in ``avi2mp4.settings``."""
    for entry in entries(PipelineConfig):
        flag, spec = entry.spec.flag, entry.spec
        if flag is None:
            continue
        if entry.type_name == "bool":  # on by default: the flag turns it off
            p.add_argument(flag, dest=entry.name, action="store_false", help=f"do not {spec.doc}")
        else:
            p.add_argument(flag, dest=entry.name, default=str(entry.default), metavar=entry.type_name.upper(),
                           choices=spec.choices or None,
                           help=f"{spec.doc}; {spec.rule()}, default {entry.default}")  # fmt: skip
    names = ", ".join(e.name for e in entries(DeadFrameThresholds))
    p.add_argument("--dead-threshold", action="append", default=[], metavar="NAME=VALUE",
                   help=f"tune the dead-frame filter, repeatable; NAME is one of {names}")  # fmt: skip


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    known = {e.name: e for e in entries(DeadFrameThresholds)}
    thresholds: dict[str, Any] = {}
    for item in args.dead_threshold:
        name, _, value = item.partition("=")
        if name not in known:
            raise ConfigError(f"--dead-threshold {item!r}: NAME must be one of {', '.join(sorted(known))}")
        thresholds[name] = parse_text(known[name], value, f"--dead-threshold {name}")
    values: dict[str, Any] = {}
    for entry in entries(PipelineConfig):
        if entry.spec.flag is None:
            continue
        raw = getattr(args, entry.name)
        values[entry.name] = raw if isinstance(raw, bool) else parse_text(entry, raw, entry.spec.flag)
    try:
        return PipelineConfig(dead_thresholds=DeadFrameThresholds(**thresholds), **values)
    except ConfigError as exc:
        raise renamed(exc, {e.name: e.spec.flag for e in entries(PipelineConfig) if e.spec.flag}) from exc


if __name__ == "__main__":
    sys.exit(main())
