"""The library's exception tree. Every error a caller should handle derives from Avi2Mp4Error.

Media errors say what is wrong with the *input* (the job cannot succeed on a retry); StorageError
and its kin say what went wrong moving bytes (a retry may succeed). The handler uses that split.
"""

from __future__ import annotations


class Avi2Mp4Error(Exception):
    """Base class: a failure with a one-line, user-facing reason in ``str(exc)``."""


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


class UnsupportedVideo(InvalidInput):
    """The video opens but cannot be converted: an unknown codec, an impossible frame size, or data
    FFmpeg refuses to decode or encode."""


class NoDecodableFrames(InvalidInput):
    """A video stream exists but not one frame decodes (header-only or fully damaged file)."""


class NotCuttable(Avi2Mp4Error):
    """A recording cannot be converted as independent clip jobs with results identical to one pass
    (no index, truncated, re-timed, or a clip job's frames did not match the index): it takes the
    sequential path instead. Not a verdict on the video itself."""


class EncoderUnavailable(Avi2Mp4Error):
    """The FFmpeg build lacks an encoder we need (libx264, aac, mjpeg)."""


class TimeBudgetExceeded(NotRetryable):
    """The conversion would outlast the invocation; it was stopped in time to clean up."""


class ResourceLimit(Avi2Mp4Error):
    """The machine ran out of memory for this video; more memory (or the CLI on a bigger machine)
    may succeed where a plain retry will not."""


class ConfigError(Avi2Mp4Error):
    """A setting is missing or out of range; the message names the setting (variable or flag)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        """The settings field at fault, so a reader can name the variable or flag that carried it."""


class StorageError(Avi2Mp4Error):
    """Reading or writing an object failed; may succeed on retry."""


class VerificationError(StorageError):
    """An output, read back, does not match what was written (size or checksum)."""
