"""``avi2mp4 convert``: files or folders of AVIs -> outputs under a local folder, one line each."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from ..conversion.one_pass import JobResult
from ..conversion.outcome import Converted, Outcome, Rejected
from ..conversion.owner import Conversion
from ..conversion.pool import PoolClipRunner
from ..conversion.ports import Runtime
from ..errors import Avi2Mp4Error, ConfigError, OutputConflict, StorageError
from ..outputs.names import OutputLayout, display_key, is_avi
from ..settings import PipelineConfig
from ..storage.local import LocalSource, LocalStore, file_sha256
from ..storage.port import Target
from .progress import ProgressBar

log = logging.getLogger("avi2mp4")

EXIT_OK, EXIT_REJECTED = 0, 1


class Interrupted(BaseException):
    """SIGTERM or SIGINT: unwinds the conversion like a failure (outputs removed), then exits."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SignalStop:
    """Turns SIGTERM/SIGINT into a request that the job honours at its next frame (``check``).

    The handler only records the signal: raising from it could land between two statements of
    the job's own bookkeeping (an upload started but not yet recorded would escape the clean-up).
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        signal.signal(signal.SIGTERM, self._record)
        signal.signal(signal.SIGINT, self._record)

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.signum = self.signum or signum

    def check(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)


def require_writable(out: Path) -> None:
    """Find an unusable --out before any work, not after the first transcode."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write there ({exc.strerror or exc})") from exc


@dataclass(frozen=True)
class Input:
    path: Path
    key: str
    """Key of the source, as S3 would have it: the path relative to the folder given (undecodable
    bytes as surrogate escapes; ``outputs.names`` makes output names of it)."""


def find_inputs(paths: Sequence[Path]) -> Iterator[Input]:
    """Files as given (any name); folders searched recursively for ``.avi`` in any case."""
    for path in paths:
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.is_file() and is_avi(p.name)):
                yield Input(found, found.relative_to(path).as_posix())
        else:
            yield Input(path, path.name)


@dataclass
class Tally:
    """What a batch did, for its last line: ``41 converted, 9 rejected, 0 failed in 47 s``."""

    converted: int = 0
    skipped: int = 0
    rejected: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)

    def count(self, exc: BaseException | None = None, rejected: bool = False) -> None:
        """A failure: ``rejected`` (bad input, a retry cannot help) or failed (it may)."""
        is_final = rejected or (isinstance(exc, Avi2Mp4Error) and not exc.retryable)
        if is_final:
            self.rejected += 1
        else:
            self.failed += 1

    @property
    def failures(self) -> int:
        return self.rejected + self.failed

    def line(self) -> str:
        skipped = f", {self.skipped} skipped (already converted)" if self.skipped else ""
        return (f"{self.converted} converted, {self.rejected} rejected, {self.failed} failed{skipped} "
                f"in {time.monotonic() - self.started:.0f} s")  # fmt: skip


def already_converted(store: LocalStore, item: Input, cfg: PipelineConfig) -> str | None:
    """The manifest of ``item`` if the outputs under ``--out`` are of exactly this file (size and
    SHA-256) with these settings, and every output it lists is still there; else None."""
    layout = OutputLayout.for_key(item.key)
    try:
        data = store.get_bytes("video", layout.manifest_key)
        manifest = json.loads(data) if data else None
    except (OSError, ValueError, StorageError):
        return None
    if not isinstance(manifest, dict):
        return None
    source = manifest.get("source") or {}
    try:
        size = item.path.stat().st_size
    except OSError:
        return None
    if source.get("key") != display_key(item.key) or source.get("size") != size:
        return None  # another source's (names that map to the same outputs), or another file
    if manifest.get("settings") != json.loads(json.dumps(cfg.as_dict())):
        return None
    listed: list[tuple[Target, dict[str, Any]]] = [
        *(("video", row) for row in [*manifest.get("clips", []), *manifest.get("review_sheets", [])]),
        *(("image", row) for row in manifest.get("frames", [])),
    ]
    for target, row in listed:
        path = store.path_of(target, str(row.get("key", "")))
        if not path.is_file() or path.stat().st_size != row.get("bytes"):
            return None
    if source.get("etag") != file_sha256(item.path):  # last: it reads the whole file
        return None
    return store.location("video", layout.manifest_key)


def run_convert(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    require_writable(args.out)
    stop = SignalStop()
    store = LocalStore(args.out)
    tally = Tally()
    for missing in [p for p in args.inputs if not p.exists()]:
        tally.count(rejected=True)
        _report_failure(Input(missing, missing.name), FileNotFoundError("no such file or folder"), args.json)
    inputs = list(find_inputs([p for p in args.inputs if p.exists()]))
    if not inputs and not tally.failures:
        print("avi2mp4: no .avi files found in the folders given", file=sys.stderr)
        return EXIT_REJECTED
    show_bar = sys.stderr.isatty() and not args.no_progress and not args.json
    owners: dict[OutputLayout, Input] = {}  # two inputs of one batch never share outputs
    for number, item in enumerate(inputs):
        owner = owners.setdefault(OutputLayout.for_key(item.key), item)
        if owner is not item:
            tally.count(rejected=True)
            _report_failure(item, OutputConflict(f"its outputs would replace those of {shown(owner.path)} "
                                                 "(same output names): rename it or convert it into another --out"),
                            args.json)  # fmt: skip
            continue
        if not args.force and (manifest := already_converted(store, item, cfg)) is not None:
            tally.skipped += 1
            _report_skipped(item, manifest, args.json)
            continue
        bar = ProgressBar(shown(item.key), position=(number + 1, len(inputs))) if show_bar else None
        try:
            stop.check()
            outcome = convert_one(item, store, cfg, args.jobs, bar, stop)
        except Interrupted as why:
            print(f"avi2mp4: stopped by {why} while converting {shown(item.path)}: its outputs were removed; "
                  f"{number} of {len(inputs)} inputs done", file=sys.stderr)  # fmt: skip
            return 128 + why.signum
        except Exception as exc:  # one bad file must not end the batch: a typed one-line rejection
            tally.count(exc)
            log.debug("conversion of %s failed", item.path, exc_info=True)
            _report_failure(item, exc, args.json)
            continue
        finally:
            if bar is not None:
                bar.clear()
        if isinstance(outcome, Converted) and outcome.job is not None:
            tally.converted += 1
            _report_success(item, outcome.job, args.json)
        else:
            tally.count(rejected=isinstance(outcome, Rejected))
            _report_outcome(item, outcome, args.json)
    if len(inputs) > 1 or tally.skipped:
        print(tally.line(), file=sys.stderr)
    return EXIT_REJECTED if tally.failures else EXIT_OK


def convert_one(item: Input, store: LocalStore, cfg: PipelineConfig, jobs: int, bar: ProgressBar | None,
                stop: SignalStop) -> Outcome:  # fmt: skip
    """One input through the library's conversion: its clip jobs on a process pool with ``jobs`` > 1
    (a long recording that can be cut), else one pass."""
    source = LocalSource(item.path, item.key)
    work = Path(tempfile.gettempdir())
    runner = PoolClipRunner(jobs, source, store, work, progress=bar, stop=stop.check) if jobs > 1 else None
    return Conversion(source, cfg, Runtime(store, work, clips=runner, stop=stop.check, progress=bar)).run()


def shown(text: object) -> str:
    """Text as a terminal can print it, and nothing else: bytes of a non-UTF-8 file name as
    ``\\xff`` (not a crash), and characters that are not printable (an escape sequence in a file
    name, a newline) as their backslash escapes, so a name cannot move the cursor or recolour the
    terminal, or forge a line of output."""
    decoded = str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in decoded)


def _report_failure(item: Input, exc: BaseException, as_json: bool) -> None:
    reason = shown(exc) or type(exc).__name__
    log.info("rejected %s: %s", shown(item.path), reason)  # the line below is the user's; the log is for -v
    if as_json:
        print(json.dumps({"input": shown(item.path), "status": "rejected",
                          "error": type(exc).__name__, "reason": reason}))  # fmt: skip
    else:
        print(f"rejected {shown(item.path)}: {type(exc).__name__}: {reason}", file=sys.stderr)


def _report_outcome(item: Input, outcome: Outcome, as_json: bool) -> None:
    """A rejection (or a file that went away) as the one line a failure gets."""
    if isinstance(outcome, Rejected):
        error, reason = outcome.error, shown(outcome.reason)
    else:
        error, reason = "SourceGone", f"{shown(item.path)} went away: {outcome}"
    log.info("rejected %s: %s", shown(item.path), reason)
    if as_json:
        print(json.dumps({"input": shown(item.path), "status": "rejected", "error": error, "reason": reason}))
    else:
        print(f"rejected {shown(item.path)}: {error}: {reason}", file=sys.stderr)


def _report_skipped(item: Input, manifest: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"input": shown(item.path), "status": "skipped", "manifest": shown(manifest)}))
    else:
        print(f"skipped {shown(item.path)}: already converted, its manifest matches the file and the settings "
              f"({shown(manifest)}); --force converts it again")  # fmt: skip


def _report_success(item: Input, job: JobResult, as_json: bool) -> None:
    r = job.result
    dead: dict[str, int] = {}
    for d in r.dead_frames:
        dead[d.reason] = dead.get(d.reason, 0) + 1
    summary = {
        "input": shown(item.path),
        "status": "ok",
        "clips": len(job.clips),
        "frames": r.frames_decoded,
        "duration_seconds": round(r.duration_seconds, 3),
        "jpegs": len(job.images),
        "dead": dead,
        "decode_errors": r.decode_errors,
        "warnings": r.warnings,
        "seconds": round(job.seconds, 2),
        "manifest": job.manifest_object.location,
        "clip_paths": [c.location for c in job.clips],
        "jpeg_folder": str(Path(job.images[0].location).parent) if job.images else None,
    }
    if as_json:
        print(json.dumps(summary))
        return
    dead_text = ",".join(f"{k}:{v}" for k, v in sorted(dead.items())) or "0"
    print(f"ok {shown(item.path)} clips={len(job.clips)} frames={r.frames_decoded} "
          f"duration={r.duration_seconds:.2f}s jpegs={len(job.images)} dead={dead_text} "
          f"decode_errors={r.decode_errors} warnings={len(r.warnings)} time={job.seconds:.1f}s "
          f"manifest={shown(job.manifest_object.location)}"
          + "".join(f"\n  warning: {shown(w)}" for w in r.warnings))  # fmt: skip
