"""What differs between the runtimes, as ports the conversion is given: where the source lies, who
runs the clip jobs, and who hears of outcomes. The store (``storage.port.Store``) is the fourth."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..media.probe import MediaSource
from ..pipeline import ProgressHandler, StopCheck
from ..storage.port import SourceRef, Store

if TYPE_CHECKING:
    from .outcome import Outcome
    from .plan import Plan


class SourceAccess(Protocol):
    """One source where it lies: a local file (the CLI) or an S3 object version (the function)."""

    @property
    def name(self) -> str:
        """How messages name it (``s3://bucket/key`` or the path)."""
        ...

    def current(self) -> SourceRef:
        """The source as it is now; raises SourceGone, or Superseded when another version replaced
        the one asked for."""
        ...

    def ranges(self, readahead: bool = False) -> AbstractContextManager[MediaSource]:
        """A seekable view that reads only what is asked (planning and clip jobs read a header, an
        index and one clip of a recording of any length); ``readahead``: it will be read front to
        back (a clip job), so reading ahead pays."""
        ...

    def fetch(self, source: SourceRef, work: Path) -> AbstractContextManager[Path]:
        """The whole file on local disk, for one pass (removed afterwards if it was copied)."""
        ...

    def delete_converted(self, source: SourceRef) -> bool:
        """Delete the source if it is still exactly the version converted; True if deleted."""
        ...

    def tag_rejected(self, source: SourceRef, error: str) -> None:
        """Mark a rejected source where people look at it (an S3 tag); may do nothing."""
        ...


class ClipRunner(Protocol):
    """Runs a plan's clip jobs: a process pool that returns when they are done, or a Step
    Functions execution that runs them (and its finish task) elsewhere."""

    def run_id(self, identity: str) -> str:
        """The name of the run that will convert the source known by ``identity``."""
        ...

    def run(self, plan: Plan) -> str | None:
        """Have every clip job of ``plan`` run (the plan is stored). None: they all ran here and
        finish comes next; else the id of the run that converts it elsewhere."""
        ...


class Observer(Protocol):
    """Hears what became of each source (metrics, logs): once per outcome, where it happened."""

    def outcome(self, outcome: Outcome) -> None: ...


class Observers:
    """Several observers, each told every outcome in turn (metrics, then events)."""

    def __init__(self, *observers: Observer) -> None:
        self.observers = observers

    def outcome(self, outcome: Outcome) -> None:
        for observer in self.observers:
            observer.outcome(outcome)


class Unobserved:
    """The observer of a run nobody watches."""

    def outcome(self, outcome: Outcome) -> None:
        del outcome


@dataclass
class Runtime:
    """Everything a conversion is given besides its source and settings."""

    store: Store
    work: Path
    """Folder for work files (the function's /tmp; the CLI's temp dir)."""
    clips: ClipRunner | None = None
    """Who runs clip jobs; None: every recording takes one pass."""
    observer: Observer = field(default_factory=Unobserved)
    stop: StopCheck | None = None
    progress: ProgressHandler | None = None
    record_rejections: bool = False
    """Write ``<stem>.rejected.json`` and tag the source (the function); the CLI prints instead."""
    now: Callable[[], float] | None = None
    """Wall clock (tests set it); None: ``time.time``."""
