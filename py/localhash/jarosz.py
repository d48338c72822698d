"""Meta's Jarosz box filter and 64x64 decimation, float32 for float32 with the reference.

The reference (ThreatExchange pdq/cpp/downscaling/downscaling.cpp, `box1DFloat`) keeps a
running float32 sum: add the entering pixel, subtract the leaving one, divide by the window.
Rounding happens at every step, so a "better" prefix-sum filter lands a few ulps away and, on
some images, flips a hash bit or the quality by one. We replay the same float32 operations in
the same order: a Python loop walks along the filtered axis and does each add, subtract and
divide for all the lines at once with numpy, which is exactly the reference's per-line
arithmetic (float32 addition is the same operation in a SIMD lane as in a scalar loop).

The last two passes are only evaluated where the 64x64 decimation samples them.
"""

from __future__ import annotations

import numpy as np

OUT_DIM = 64  # PDQ decimates to 64x64 (pdqhashing.cpp)


def window_size(old_dim: int, new_dim: int = OUT_DIM) -> int:
    """`computeJaroszFilterWindowSize`: ceil(old / (2 * new)) as the reference spells it."""
    return (old_dim + 2 * new_dim - 1) // (2 * new_dim)


def _phases(length: int, window: int) -> tuple[int, int, int, int]:
    half = (window + 2) // 2  # 7 -> 4, 8 -> 5, as box1DFloat
    return half - 1, window - half + 1, length - window, half - 1


def transpose(a: np.ndarray, tile: int = 256) -> np.ndarray:
    """A contiguous transposed copy, tile by tile: 3-4x faster than one big strided copy
    because each tile stays in cache."""
    out = np.empty(a.shape[::-1], a.dtype)
    rows, cols = a.shape
    for i in range(0, rows, tile):
        for j in range(0, cols, tile):
            out[j : j + tile, i : i + tile] = a[i : i + tile, j : j + tile].T
    return out


def box_along_first_axis(x: np.ndarray, window: int, wanted: np.ndarray | None = None) -> np.ndarray:
    """box1DFloat down axis 0 for every column at once: one vector operation per reference step.

    With `wanted` (sorted output indices), only those outputs are divided out and returned.
    """
    length = x.shape[0]
    p1, p2, p3, _ = _phases(length, window)
    if wanted is None:
        targets, expand = np.arange(length), None
    else:  # images under 64 px sample some outputs twice: compute each once, then repeat it
        targets, expand = np.unique(wanted, return_inverse=True)
    position = {int(o): k for k, o in enumerate(targets)}
    out = np.empty((len(targets),) + x.shape[1:], np.float32)
    running = np.zeros(x.shape[1:], np.float32)
    for row in range(p1):
        running += x[row]
    size = p1
    for o in range(int(targets[-1]) + 1):
        if o < p2:  # phase 2: the window grows
            running += x[p1 + o]
            size += 1
        elif o < p2 + p3:  # phase 3: full window slides
            running += x[window + o - p2]
            running -= x[o - p2]
        else:  # phase 4: the window shrinks
            running -= x[o - p2]
            size -= 1
        k = position.get(o)
        if k is not None:
            np.divide(running, np.float32(size), out=out[k])
    return out if expand is None else out[expand]


def sample_indices(length: int) -> np.ndarray:
    """`decimateFloat`: (int)(((i + 0.5) * length) / 64), computed in double as the reference."""
    return ((np.arange(OUT_DIM) + 0.5) * length / OUT_DIM).astype(np.intp)


def filter_and_decimate(luma_t: np.ndarray) -> np.ndarray:
    """Two Jarosz passes (rows, columns, rows, columns) then 64x64 decimation, as float32.

    Takes the luma plane TRANSPOSED, (cols, rows), so that the first pass runs down axis 0.
    Each pass runs down axis 0 of a contiguous array; tiled transposes turn the image between
    passes. The last two passes only compute what the decimation samples.
    """
    return filter_and_decimate_owned([luma_t])


def filter_and_decimate_owned(planes: list[np.ndarray]) -> np.ndarray:
    """filter_and_decimate of the one plane in `planes`, which it takes out: when the caller holds no
    other reference, each full-size float32 plane is freed as soon as the next exists, so no more than
    two are alive at once (8 bytes a pixel; the browser's heap of a 48 MP photo depends on it)."""
    luma_t = planes.pop()
    cols, rows = luma_t.shape
    along_rows, along_cols = window_size(cols), window_size(rows)
    plane = box_along_first_axis(luma_t, along_rows)  # pass 1, (cols, rows)
    del luma_t
    plane = transpose(plane)  # the pass-1 plane is freed once its transpose exists
    plane = box_along_first_axis(plane, along_cols)  # pass 2, (rows, cols)
    plane = transpose(plane)
    pass3 = box_along_first_axis(plane, along_rows, sample_indices(cols))  # (64, rows)
    del plane
    return box_along_first_axis(np.ascontiguousarray(pass3.T), along_cols, sample_indices(rows))
