"""``avi2mp4 convert``: files or folders of AVIs -> outputs under a local folder, one line each."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import Avi2Mp4Error
from ..job import JobResult, run_job
from ..outputs.manifest import SourceRef
from ..outputs.names import is_avi
from ..settings import PipelineConfig
from ..storage.local import LocalStore
from .progress import ProgressBar

log = logging.getLogger("avi2mp4")

EXIT_OK, EXIT_REJECTED = 0, 1


@dataclass(frozen=True)
class Input:
    path: Path
    key: str
    """Key of the source as outputs are named: the path relative to the folder given."""


def find_inputs(paths: Sequence[Path]) -> Iterator[Input]:
    """Files as given (any name); folders searched recursively for ``.avi`` in any case."""
    for path in paths:
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.is_file() and is_avi(p.name)):
                yield Input(found, found.relative_to(path).as_posix())
        else:
            yield Input(path, path.name)


def run_convert(args: argparse.Namespace, cfg: PipelineConfig) -> int:
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
            job = run_job(item.path, source, store, cfg, progress=bar)
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
