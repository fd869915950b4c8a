"""Is a frame dead? Small pure functions on a full-range 8-bit luma thumbnail (a numpy array):
no I/O, no PyAV. Tests build their arrays with ``numpy.full``."""

from __future__ import annotations

import numpy as np

BLOCK = 8
Luma = np.ndarray  # 2-D uint8, full range (0 = black, 255 = white)


def is_black(luma: Luma, level: float = 0.10, share: float = 0.98) -> bool:
    """FFmpeg blackdetect's per-frame rule: >= ``share`` of pixels at or below ``level`` of the range."""
    return float(np.count_nonzero(luma <= level * 255)) >= share * luma.size


def block_spread(luma: Luma, block: int = BLOCK) -> float:
    """Standard deviation of ``block`` x ``block`` block means: ~0 for a flat field, even a noisy one
    (averaging 64 pixels divides the noise by 8), large for any picture with structure."""
    h, w = (luma.shape[0] // block) * block, (luma.shape[1] // block) * block
    if h == 0 or w == 0:
        return float(luma.std())
    means = luma[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3))
    return float(means.std())


def is_blank(luma: Luma, spread: float = 2.5) -> bool:
    """A flat field of any brightness: gray concealment, zeroed green, blue "no signal", white flash."""
    return block_spread(luma) < spread


def frame_difference(a: Luma, b: Luma) -> float:
    """Mean absolute difference of two thumbnails, as a fraction of the range (0..1)."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()) / 255.0
