"""When a recording started, as its container says (the camera's clock: no time zone).

AVI keeps it in the ``IDIT`` chunk (FFmpeg reads it as ``creation_time``) or in the INFO list's
``ICRD`` (``date``); an MP4 or MKV named .avi has ``creation_time``. Only a full date and time
counts: a year or a day alone would put a made-up time in every JPEG's EXIF.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

KEYS = ("creation_time", "date", "IDIT", "ICRD")
FORMATS = (
    "%Y-%m-%dT%H:%M:%S.%f",  # FFmpeg's creation_time (a trailing Z is cut first)
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y:%m:%d %H:%M:%S",  # EXIF style, as some cameras write ICRD
    "%Y/%m/%d %H:%M:%S",
    "%a %b %d %H:%M:%S %Y",  # IDIT as AVI writers put it: "SAT JUN 05 14:03:22 2021"
)
EARLIEST = dt.datetime(1970, 1, 2)
"""Before this, a clock that was never set (cameras start at 1970-01-01 or 2000-01-01 00:00)."""


def recorded_at(metadata: Mapping[str, str]) -> dt.datetime | None:
    """The first key of ``KEYS`` whose value is a plausible full date and time (naive, as written)."""
    for key in KEYS:
        text = " ".join(str(metadata.get(key, "")).replace("\x00", " ").split())
        if not text:
            continue
        text = text.removesuffix("Z").removesuffix("z")
        if text[-6:-5] in ("+", "-") and text[-3:-2] == ":":  # an offset: the clock's reading is what counts
            text = text[:-6]
        for form in FORMATS:
            try:
                when = dt.datetime.strptime(text.title() if "%a" in form else text, form)
            except ValueError:
                continue
            if when >= EARLIEST and when != dt.datetime(2000, 1, 1):
                return when
    return None
