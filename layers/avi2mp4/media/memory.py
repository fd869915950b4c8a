"""Whether a video's frames can fit in this machine's memory, judged from its header, before a
single frame is decoded: a damaged or hostile header declaring 16000x16000 frames would otherwise
make the decoder and x264 allocate until the process is killed (in Lambda an out-of-memory kill:
no clean-up, and a retry that dies the same way)."""

from __future__ import annotations

import contextlib
import os
import resource
from pathlib import Path

BYTES_PER_PIXEL = 130
"""Peak memory per pixel of frame size (measured, 3 s of MJPEG each, peak RSS: 360p 103 MiB, 720p
196 MiB, 1080p 335 MiB, 2160p 1059 MiB: ~123 bytes a pixel over a ~90 MiB base). The decoder's
frame threads, the frames waiting for the judge and the encoder's queue, x264's lookahead,
references and frame threads all hold frames."""
BASE_BYTES = 100 << 20
HEADROOM = 0.9
"""Share of the machine's memory a conversion may plan to use."""


def needed_bytes(width: int, height: int) -> int:
    """About the peak memory of converting frames of this size."""
    return BASE_BYTES + BYTES_PER_PIXEL * width * height


def available_bytes() -> int | None:
    """The memory this process may use: the Lambda function's size, else the smallest of the
    address-space limit, the cgroup's limit and the physical memory; None if none is known."""
    lambda_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    if lambda_mb.isdigit():
        return int(lambda_mb) << 20
    limits = []
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append(soft)
    with contextlib.suppress(OSError):
        cgroup = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if cgroup.isdigit():
            limits.append(int(cgroup))
    with contextlib.suppress(ValueError, OSError):
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    return min(limits) if limits else None


def too_big(width: int, height: int) -> str | None:
    """Why frames of this size cannot be converted here, or None."""
    available = available_bytes()
    needed = needed_bytes(width, height)
    if available is None or needed <= available * HEADROOM:
        return None
    return (f"its {width}x{height} frames need about {needed >> 20} MB to convert and this machine has "
            f"{available >> 20} MB: give the function more memory, or convert it with the CLI on a bigger "
            "machine")  # fmt: skip
