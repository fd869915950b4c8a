"""The library's exception tree. Every error a caller should handle derives from Avi2Mp4Error.

Whether a retry may help is a property of the error's class (``retryable``), declared here once:
the function, its clip and finish tasks and the state machine's Retry lists all follow it (a test
holds the state machine to ``retryable_names``). Moving bytes may succeed on a retry
(``StorageError``); everything else fails the same way again: bad input, a conflict, an output that
does not verify, a spent budget, a machine too small for the video.
"""

from __future__ import annotations

from typing import ClassVar


class Avi2Mp4Error(Exception):
    """Base class: a failure with a one-line, user-facing reason in ``str(exc)``."""

    retryable: ClassVar[bool] = False
    """Whether running the same step again may succeed. Only storage and transport failures may."""


class NotRetryable(Avi2Mp4Error):
    """Retrying the same conversion will fail the same way: the function records the reason and
    keeps the source instead of retrying."""


class InvalidInput(NotRetryable):
    """The source cannot be converted. Retrying will not help; the source is kept."""


class EmptyFile(InvalidInput):
    """The source has zero bytes."""


class UnreadableVideo(InvalidInput):
    """FFmpeg cannot open the source as a media container (HTML, random bytes, ...)."""


class NoVideoStream(InvalidInput):
    """The container opens but holds no video stream (an audio-only AVI, say)."""


class OutputConflict(InvalidInput):
    """Another source already owns the output names this one maps to (``rec.avi`` and ``rec.AVI``)."""


class NameTooLong(InvalidInput):
    """An output's name would pass what the store takes (S3: 1,024 bytes a key; a local file
    system: 255 bytes a name): a shorter source name is needed."""


class UnsupportedVideo(InvalidInput):
    """The video opens but cannot be converted: an unknown codec, an impossible frame size, or data
    FFmpeg refuses to decode or encode."""


class NoDecodableFrames(InvalidInput):
    """A video stream exists but not one frame decodes (header-only or fully damaged file)."""


class NotCuttable(NotRetryable):
    """A recording cannot be converted as independent clip jobs with results identical to one pass
    (no index, truncated, re-timed, or a clip job's frames did not match the index): it takes the
    one-pass path instead. Not a verdict on the video itself."""


class EncoderUnavailable(NotRetryable):
    """The FFmpeg build lacks an encoder we need (libx264, aac, mjpeg)."""


class TimeBudgetExceeded(NotRetryable):
    """The conversion would outlast the invocation; it was stopped in time to clean up."""


class ResourceLimit(NotRetryable):
    """The machine is too small for this video (memory, disk): more memory or /tmp, or the CLI on a
    bigger machine, may succeed where a plain retry will not."""


class InsufficientStorage(ResourceLimit):
    """/tmp cannot hold the source and its outputs: raise the function's EphemeralStorage."""


class ConfigError(NotRetryable):
    """A setting is missing or out of range; the message names the setting (variable or flag)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        """The settings field at fault, so a reader can name the variable or flag that carried it."""


class VerificationError(NotRetryable):
    """An output, read back, does not match what was written (size or checksum), or a work object
    does not match the plan. A failed read is a StorageError, not this."""


class IncompleteRun(NotRetryable):
    """A clip job left no report: the run is not complete. A consequence of the clip job's own
    failure (which decides what follows), never a verdict on the source."""


class ForeignRun(NotRetryable):
    """A task names a recording, a version or a run that the stored plan does not: it is not this
    run's to touch (a forged or stale request). Nothing is written or removed."""


class SourceGone(NotRetryable):
    """The source object no longer exists (already converted and deleted, or removed by a user)."""


class Superseded(NotRetryable):
    """Another version of the source is current now (a re-upload): that version's own event
    converts it; this one is left alone."""


class StorageError(Avi2Mp4Error):
    """Reading or writing an object failed (a transport error, a throttle, a 5xx); may succeed on
    retry."""

    retryable = True


def error_classes() -> list[type[Avi2Mp4Error]]:
    """Every class of the tree, base first."""
    found: list[type[Avi2Mp4Error]] = []
    pending: list[type[Avi2Mp4Error]] = [Avi2Mp4Error]
    while pending:
        cls = pending.pop(0)
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def retryable_names() -> list[str]:
    """The names of the errors a retry may fix, as a task reports them (``errorType``: the class
    name, not its bases): what the state machine's Retry lists must name."""
    return sorted(cls.__name__ for cls in error_classes() if cls.retryable)


def is_retryable(exc: BaseException) -> bool:
    """Our errors say; anything else (a bug, an SDK error that escaped its translation) is treated
    as transient, so it is retried and ends, if it persists, where failures are looked at."""
    return exc.retryable if isinstance(exc, Avi2Mp4Error) else True


def by_name(name: str) -> type[Avi2Mp4Error] | None:
    """The class of the tree with this name (a task's ``errorType``), if any."""
    return next((cls for cls in error_classes() if cls.__name__ == name), None)
