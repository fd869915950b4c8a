"""``avi2mp4``: convert local files, run the Lambda handler on an event, or run the demo."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from . import __version__
from .config import X264_PRESETS, DeadFrameThresholds, PipelineConfig
from .errors import Avi2Mp4Error, ConfigError
from .job import JobResult, convert_source
from .layout import is_avi
from .manifest import SourceRef
from .progress import ProgressBar
from .store import LocalStore

log = logging.getLogger("avi2mp4")

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class Input:
    path: Path
    key: str
    """Key of the source as outputs are named: the path relative to the folder given."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.run(args)
    except ConfigError as exc:
        print(f"avi2mp4: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avi2mp4", description=__doc__)
    parser.add_argument("--version", action="version", version=f"avi2mp4 {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    convert = sub.add_parser("convert", help="convert AVI files or folders of AVIs")
    convert.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="AVI file or folder")
    convert.add_argument("--out", "-o", type=Path, required=True, metavar="DIR",
                         help="output folder (video-mp4/ and unlabeled-images/ are made in it)")  # fmt: skip
    _add_pipeline_options(convert)
    convert.add_argument("--json", action="store_true", help="print one JSON object per video")
    convert.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    convert.set_defaults(run=_convert)

    invoke = sub.add_parser("invoke", help="run the Lambda handler on an S3 event (AWS_ENDPOINT_URL)")
    invoke.add_argument("event", type=Path, metavar="EVENT.json")
    invoke.set_defaults(run=_invoke)

    demo = sub.add_parser("demo", help="the S3 -> Lambda flow on an embedded local S3 + DynamoDB")
    demo.add_argument("--seconds", type=float, default=250.0, help="length of the generated AVI")
    demo.set_defaults(run=_demo)
    return parser


def _add_pipeline_options(p: argparse.ArgumentParser) -> None:
    d = PipelineConfig()
    p.add_argument("--clip-seconds", type=float, default=d.clip_seconds, help="clip length when split")
    p.add_argument("--split-after", type=float, default=d.split_after_seconds, metavar="SECONDS",
                   help="split videos longer than this")  # fmt: skip
    p.add_argument("--frame-step", type=int, default=d.frame_step, help="every Nth frame -> JPEG")
    p.add_argument("--no-dead-filter", action="store_true", help="keep black/blank/frozen/damaged frames")
    p.add_argument(
        "--dead-threshold",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"tune the dead-frame filter ({', '.join(f.name for f in fields(DeadFrameThresholds))})",
    )
    p.add_argument("--jpeg-quality", type=int, default=d.jpeg_quality)
    p.add_argument("--crf", type=int, default=d.x264_crf, help="x264 constant rate factor (0-51)")
    p.add_argument("--preset", default=d.x264_preset, choices=X264_PRESETS, help="x264 preset")


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    thresholds: dict[str, float] = {}
    known = {f.name for f in fields(DeadFrameThresholds)}
    for item in args.dead_threshold:
        name, _, value = item.partition("=")
        if name not in known:
            raise ConfigError(f"--dead-threshold {item!r}: NAME must be one of {', '.join(sorted(known))}")
        try:
            thresholds[name] = float(value)
        except ValueError as exc:
            raise ConfigError(f"--dead-threshold {item!r}: VALUE must be a number") from exc
    return PipelineConfig(
        dead_thresholds=DeadFrameThresholds(**thresholds),
        clip_seconds=args.clip_seconds,
        split_after_seconds=args.split_after,
        frame_step=args.frame_step,
        dead_frame_filter=not args.no_dead_filter,
        jpeg_quality=args.jpeg_quality,
        x264_preset=args.preset,
        x264_crf=args.crf,
    )


def find_inputs(paths: Sequence[Path]) -> Iterator[Input]:
    """Files as given (any name); folders searched recursively for ``.avi`` in any case."""
    for path in paths:
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.is_file() and is_avi(p.name)):
                yield Input(found, found.relative_to(path).as_posix())
        else:
            yield Input(path, path.name)


def _convert(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    store = LocalStore(args.out)
    failures = 0
    for missing in [p for p in args.inputs if not p.exists()]:
        failures += 1
        _report_failure(Input(missing, missing.name), FileNotFoundError("no such file or folder"), args.json)
    inputs = list(find_inputs([p for p in args.inputs if p.exists()]))
    if not inputs and not failures:
        print("avi2mp4: no .avi files found in the folders given", file=sys.stderr)
        return EXIT_REJECTED
    show_bar = sys.stderr.isatty() and not args.no_progress and not args.json
    for item in inputs:
        bar = ProgressBar(item.key) if show_bar else None
        try:
            source = SourceRef(key=item.key, size=item.path.stat().st_size, bucket=None)
            job = convert_source(item.path, source, store, cfg, progress=bar)
        except (Avi2Mp4Error, OSError) as exc:
            failures += 1
            _report_failure(item, exc, args.json)
            continue
        finally:
            if bar is not None:
                bar.clear()
        _report_success(item, job, args.json)
    return EXIT_REJECTED if failures else EXIT_OK


def _report_failure(item: Input, exc: BaseException, as_json: bool) -> None:
    reason = str(exc) or type(exc).__name__
    log.warning("rejected %s: %s", item.path, reason)
    if as_json:
        print(json.dumps({"input": str(item.path), "status": "rejected",
                          "error": type(exc).__name__, "reason": reason}))  # fmt: skip
    else:
        print(f"rejected {item.path}: {type(exc).__name__}: {reason}", file=sys.stderr)


def _report_success(item: Input, job: JobResult, as_json: bool) -> None:
    r = job.result
    dead: dict[str, int] = {}
    for d in r.dead_frames:
        dead[d.reason] = dead.get(d.reason, 0) + 1
    summary = {
        "input": str(item.path),
        "status": "ok",
        "clips": len(job.clips),
        "frames": r.frames_decoded,
        "duration_seconds": round(r.duration_seconds, 3),
        "jpegs": len(job.images),
        "dead": dead,
        "decode_errors": r.decode_errors,
        "seconds": round(job.seconds, 2),
        "manifest": job.manifest_object.location,
    }
    if as_json:
        print(json.dumps(summary))
        return
    dead_text = ",".join(f"{k}:{v}" for k, v in sorted(dead.items())) or "0"
    print(f"ok {item.path} clips={len(job.clips)} frames={r.frames_decoded} "
          f"duration={r.duration_seconds:.2f}s jpegs={len(job.images)} dead={dead_text} "
          f"decode_errors={r.decode_errors} time={job.seconds:.1f}s "
          f"manifest={job.manifest_object.location}")  # fmt: skip


def _invoke(args: argparse.Namespace) -> int:
    from handler.local import invoke_file  # the AWS adapter: only this command needs it

    return invoke_file(args.event, endpoint=os.environ.get("AWS_ENDPOINT_URL"))


def _demo(args: argparse.Namespace) -> int:
    from handler.demo import run_demo  # needs moto (a development dependency)

    return run_demo(seconds=args.seconds)


if __name__ == "__main__":
    sys.exit(main())
