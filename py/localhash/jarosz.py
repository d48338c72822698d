"""Meta's Jarosz box filter and 64x64 decimation, float32 for float32 with the reference.

The reference (ThreatExchange pdq/cpp/downscaling/downscaling.cpp, `box1DFloat`) keeps a
running float32 sum: add the entering pixel, subtract the leaving one, divide by the window.
Rounding happens at every step, so a "better" prefix-sum filter lands a few ulps away and, on
some images, flips a hash bit or the quality by one. We replay the same float32 operations in
the same order, vectorised with numpy:

* along a row (the contiguous axis), the adds and subtracts are laid out in one array in the
  reference's order and `np.cumsum` replays the running sum (accumulate is strictly sequential);
* down the columns, a Python loop walks the rows and does each add/subtract/divide for all
  columns at once, which is exactly the per-column arithmetic.

The last two passes are only evaluated where the 64x64 decimation samples them.
"""

from __future__ import annotations

import numpy as np

OUT_DIM = 64  # PDQ decimates to 64x64 (pdqhashing.cpp)
_ROW_CHUNK = 64  # rows per chunk in row passes: keeps the working set in cache


def window_size(old_dim: int, new_dim: int = OUT_DIM) -> int:
    """`computeJaroszFilterWindowSize`: ceil(old / (2 * new)) as the reference spells it."""
    return (old_dim + 2 * new_dim - 1) // (2 * new_dim)


def _phases(length: int, window: int) -> tuple[int, int, int, int]:
    half = (window + 2) // 2  # 7 -> 4, 8 -> 5, as box1DFloat
    return half - 1, window - half + 1, length - window, half - 1


def box_along_last_axis(x: np.ndarray, window: int) -> np.ndarray:
    """box1DFloat applied along the last axis of a float32 array, bit for bit."""
    length = x.shape[-1]
    p1, p2, p3, p4 = _phases(length, window)
    lead = x.shape[:-1]
    # The reference's sequence of operations: `window` adds (phases 1-2), then p3 pairs of
    # (add entering, subtract leaving), then p4 subtracts. Subtracting equals adding the negation.
    ops = np.empty(lead + (window + 2 * p3 + p4,), np.float32)
    ops[..., :window] = x[..., :window]
    pairs = ops[..., window : window + 2 * p3].reshape(lead + (p3, 2))
    pairs[..., 0] = x[..., window:]
    np.negative(x[..., :p3], out=pairs[..., 1])
    np.negative(x[..., p3 : p3 + p4], out=ops[..., window + 2 * p3 :])
    np.cumsum(ops, axis=-1, out=ops)
    out = np.empty(x.shape, np.float32)
    np.divide(ops[..., p1:window], np.arange(p1 + 1, window + 1, dtype=np.float32), out=out[..., :p2])
    np.divide(ops[..., window + 1 : window + 2 * p3 : 2], np.float32(window), out=out[..., p2 : p2 + p3])
    tail_sizes = np.arange(window - 1, window - 1 - p4, -1, dtype=np.float32)
    np.divide(ops[..., window + 2 * p3 :], tail_sizes, out=out[..., p2 + p3 :])
    return out


def _box_rows(x: np.ndarray, window: int, out: np.ndarray) -> np.ndarray:
    for start in range(0, x.shape[0], _ROW_CHUNK):
        out[start : start + _ROW_CHUNK] = box_along_last_axis(x[start : start + _ROW_CHUNK], window)
    return out


def _box_columns(x: np.ndarray, window: int, out: np.ndarray) -> np.ndarray:
    """box1DFloat down every column at once: one vector operation per reference step."""
    p1, p2, p3, p4 = _phases(x.shape[0], window)
    running = np.zeros(x.shape[1], np.float32)
    for row in range(p1):
        running += x[row]
    for k in range(p2):
        running += x[p1 + k]
        np.divide(running, np.float32(p1 + k + 1), out=out[k])
    full = np.float32(window)
    for k in range(p3):
        running += x[window + k]
        running -= x[k]
        np.divide(running, full, out=out[p2 + k])
    for k in range(p4):
        running -= x[p3 + k]
        np.divide(running, np.float32(window - 1 - k), out=out[p2 + p3 + k])
    return out


def sample_indices(length: int) -> np.ndarray:
    """`decimateFloat`: (int)(((i + 0.5) * length) / 64), computed in double as the reference."""
    return ((np.arange(OUT_DIM) + 0.5) * length / OUT_DIM).astype(np.intp)


def filter_and_decimate(luma: np.ndarray) -> np.ndarray:
    """Two Jarosz passes (rows, columns, rows, columns) then 64x64 decimation, as float32."""
    rows, cols = luma.shape
    along_rows, along_cols = window_size(cols), window_size(rows)
    scratch = np.empty_like(luma)
    _box_rows(luma, along_rows, scratch)
    _box_columns(scratch, along_cols, luma)  # luma is overwritten: the caller handed it over
    _box_rows(luma, along_rows, scratch)
    # Last pass: only the 64 sampled columns are needed, and only 64 rows of those.
    sampled_cols = np.ascontiguousarray(scratch[:, sample_indices(cols)].T)  # (64, rows)
    filtered = box_along_last_axis(sampled_cols, along_cols)
    return np.ascontiguousarray(filtered[:, sample_indices(rows)].T)
