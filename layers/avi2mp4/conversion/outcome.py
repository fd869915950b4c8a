"""What became of one source: one typed outcome, whatever the path that converted it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ..handover import DeadFrame
from ..storage.port import SourceRef, StoredObject

if TYPE_CHECKING:
    from .one_pass import JobResult
    from .plan import Plan

Path_ = Literal["single", "sequential", "parallel"]


@dataclass(frozen=True)
class Converted:
    """Every output stored and verified, the manifest written last."""

    source: SourceRef
    manifest: StoredObject
    clips: list[StoredObject]
    images: list[StoredObject]
    frames: int
    duration_seconds: float
    decode_errors: int
    dead_frames: list[DeadFrame]
    seconds: float
    """How long the conversion took (clip jobs: from the plan to the manifest)."""
    path: Path_
    source_deleted: bool = False
    reviews: list[StoredObject] = field(default_factory=list)
    jpeg_folder: str = ""
    """Where the JPEGs are (``s3://bucket/prefix/stem/`` or a folder)."""
    job: JobResult | None = field(default=None, compare=False, repr=False)
    """The full result, where this process converted it (None: found complete by a clean-up)."""


@dataclass(frozen=True)
class Rejected:
    """Bad input, or a limit a retry cannot lift: the source is kept (and, in a bucket, tagged and
    its reason recorded next to where the manifest would be)."""

    source: SourceRef
    error: str
    reason: str
    record: StoredObject | None = None

    @property
    def why(self) -> str:
        return f"{self.error}: {self.reason}"


@dataclass(frozen=True)
class HandedOff:
    """A long recording whose clip jobs run elsewhere (a Step Functions execution: ``run``)."""

    plan: Plan
    run: str


@dataclass(frozen=True)
class FallBack:
    """The clip jobs found the recording cannot be cut exactly: it is to be converted in one pass."""

    source: SourceRef
    why: str


@dataclass(frozen=True)
class Failed:
    """A failure a retry may fix; every output was removed and the source kept."""

    source: SourceRef
    error: str
    reason: str


@dataclass(frozen=True)
class Skipped:
    """Nothing to do: the source is ``gone`` (an earlier delivery converted it) or ``superseded`` (a
    newer version's own event converts that one)."""

    status: Literal["gone", "superseded"]
    reason: str


Outcome = Converted | Rejected | HandedOff | FallBack | Failed | Skipped
