"""Is a frame dead? Small pure functions on a full-range 8-bit luma thumbnail (a numpy array):
no I/O, no PyAV. Tests build their arrays with ``numpy.full``."""

from __future__ import annotations

import functools

import numpy as np

BLOCK = 8
Luma = np.ndarray  # 2-D uint8, full range (0 = black, 255 = white)


def is_black(luma: Luma, level: float = 0.10, share: float = 0.98) -> bool:
    """FFmpeg blackdetect's per-frame rule: >= ``share`` of pixels at or below ``level`` of the range."""
    return float(np.count_nonzero(luma <= level * 255)) >= share * luma.size


@functools.cache
def _block_averaging(rows: int, cols: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Matrices that average ``block`` rows and columns: block means as two small matrix products
    (~30 us for a 160 px thumbnail, where a 4-D reshape-and-reduce took ~75 us)."""
    down = np.kron(np.eye(rows, dtype=np.float32), np.full((1, block), 1 / block, np.float32))
    across = np.kron(np.eye(cols, dtype=np.float32), np.full((block, 1), 1 / block, np.float32))
    return down, across


def block_stats(luma: Luma, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of every ``block`` x ``block`` block (rows x columns of blocks)."""
    h, w = (luma.shape[0] // block) * block, (luma.shape[1] // block) * block
    if h == 0 or w == 0:
        whole = luma.astype(np.float32)
        return np.array([[whole.mean()]]), np.array([[whole.var()]])
    down, across = _block_averaging(h // block, w // block, block)
    pixels = luma[:h, :w].astype(np.float32)
    means = down @ pixels @ across
    return means, np.maximum(down @ (pixels * pixels) @ across - means * means, 0)


def concealed_rows(flat: np.ndarray, reference: np.ndarray, means: np.ndarray, spread: float) -> float:
    """The largest band of block rows that turned flat (``flat``, where ``reference`` was not) at
    one level (block means within ``spread``), as a share of all rows: what a decoder's
    concealment leaves after damage (the rows below the damage filled with one gray)."""
    newly = flat & ~reference
    full_rows = newly.mean(axis=1) >= 0.9
    best, run, start, best_start = 0, 0, 0, 0
    for row, full in enumerate(full_rows):
        run = run + 1 if full else 0
        if run == 1:
            start = row
        if run > best:
            best, best_start = run, start
    if best == 0 or float(means[best_start : best_start + best].std()) >= spread:
        return 0.0
    return best / len(full_rows)


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


def sharpness(luma: Luma) -> float:
    """Variance of the 4-neighbour Laplacian: high for crisp edges and texture, low for a blurred
    (out of focus, motion-smeared) picture. On the ~160 px thumbnail, so comparable across sizes."""
    if luma.shape[0] < 3 or luma.shape[1] < 3:
        return 0.0
    x = luma.astype(np.int16)
    laplacian = 4 * x[1:-1, 1:-1] - x[:-2, 1:-1] - x[2:, 1:-1] - x[1:-1, :-2] - x[1:-1, 2:]
    return float(laplacian.var())


CHANGE_BLOCK = 4


def change_thumbnail(luma: Luma) -> np.ndarray:
    """A coarse picture (4x4 block means of the thumbnail, ~40 px wide, uint8) to compare kept
    JPEGs by: sensor noise averages out, a person walking in does not."""
    means, _ = block_stats(luma, CHANGE_BLOCK)
    coarse: np.ndarray = np.clip(means + 0.5, 0, 255).astype(np.uint8)
    return coarse
