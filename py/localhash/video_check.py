"""The check of a video frame as the browser copied it against the engine's own RGB conversion of the same frame
(web/video.js): copied planes converted to RGB (plane_check), or an RGB copy as it is (rgb_check), compared cell by
cell. A wrong copy (a wrong stride, another frame, the range misread, U and V swapped) stops the video's vPDQ
(video_browser.VideoFrames) instead of sending a wrong hash.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .vpdq import run_steps

# The check of copied planes against the engine's own RGB of the same frame (plane_check; its RGBA copyTo or its canvas
# drawing, web/video.js): the planes converted to RGB per pixel with the matrix and range the engine drew with (the
# frame's colour space; clipped as the engine clips saturated colours), the frame cut into GRID x GRID cells, and each
# cell's mean RGB compared with the engine's. A correct copy differs only by the engine's chroma upsampling and
# rounding: measured on the corpus and generated videos in Chromium at most 0.46 levels of luma and 0.76 of colour
# (tests/site/test_vpdq.py prints them); the limits leave room above that and stay far below what a wrong copy gives: a
# wrong stride, another frame, the range misread, and on coloured pictures U and V swapped or NV12 read as I420 (10-120
# levels, tests/core/test_video_browser.py). What it cannot see moves PDQ little: chroma off by a row, U and V swapped
# on a grey picture.
GRID = 16
# Every CHECK_STEP-th row and column (even: chroma samples sit on luma samples there) is read, on both sides: a
# sixteenth of the frame. The faults above are the frame's whole, so a sparser sample sees them as well; at every
# other row and column the check took 23 ms of a 720p frame's 91 in Chromium (bench/video.py --profile).
CHECK_STEP = 4
LUMA_LIMIT = 2.0  # mean absolute difference over the cells, in 8-bit levels
COLOUR_LIMIT = 3.0
# Kr, Kb of the matrices VideoColorSpace names (ITU-R BT.709, BT.601 as SMPTE 170M / BT.470BG, BT.2020).
MATRICES = {
    "bt709": (0.2126, 0.0722),
    "smpte170m": (0.299, 0.114),
    "bt470bg": (0.299, 0.114),
    "bt2020-ncl": (0.2627, 0.0593),
}


# Samples the check reads per step of its job: every cell of a frame up to 1080p at once, a few bands of cells at a
# time beyond. In wasm a numpy call costs microseconds whatever its size, so a band at a time (16 steps of some 30
# calls each) took 7.9-8.8 ms of a 720p frame in Pyodide under node, and this 3.4-7.3 ms (2026-12-02).
CHECK_SAMPLES = 1 << 17


def _cell_sums(pixels: np.ndarray, cell_rows: int, cell_cols: int, down: int, across: int) -> np.ndarray:
    """Sums of the down x across cells of cell_rows x cell_cols samples at the top left of `pixels` (rows, cols,
    channels), (down, across, channels): exact for integers, float64 for floats, without a copy of the area."""
    area = pixels[: cell_rows * down, : cell_cols * across]
    exact = np.int64 if area.dtype.kind in "ui" else np.float64
    return area.reshape(down, cell_rows, across, cell_cols, -1).sum(axis=(1, 3), dtype=exact)


def _band_groups(down: int, samples_per_band: int) -> Iterator[tuple[int, int]]:
    """(first band, bands) of each step: as many bands of cells as CHECK_SAMPLES holds, at least one."""
    group = max(1, CHECK_SAMPLES // max(1, samples_per_band))
    for first in range(0, down, group):
        yield first, min(group, down - first)


def _grid(rows: int, cols: int) -> tuple[int, int, int, int]:
    """(cells down, cells across, cell rows, cell columns) of a grid of at most GRID x GRID cells over rows x cols
    samples (a frame under 64 px a side has fewer cells)."""
    down, across = min(GRID, rows), min(GRID, cols)
    return down, across, rows // down, cols // across


def plane_check(y, u, v, engine_rows: np.ndarray, matrix: str, full_range: bool) -> dict:
    """How far the copied planes are from the engine's RGB drawing of the same frame: {passed, luma_error,
    colour_error}, mean absolute differences over the cells of their luma (BT.601 weights) and of their R, G, B,
    in 8-bit levels. Both are read every CHECK_STEP rows and columns, where a chroma sample sits on its own luma
    sample: `engine_rows` holds the drawing's rows 0, CHECK_STEP, 2 x CHECK_STEP, ... (VideoFrames.reference), and
    the check reads a few bands of cells at a time (CHECK_SAMPLES), so a 4K frame costs a few bands' floats."""
    return run_steps(plane_check_steps(y, u, v, engine_rows, matrix, full_range))


def plane_check_steps(y, u, v, engine_rows: np.ndarray, matrix: str, full_range: bool) -> Iterator[None]:
    """plane_check, yielding after each group of bands of cells; returns its dict."""
    kr, kb = MATRICES.get(str(matrix), MATRICES["smpte170m"])
    kg = 1 - kr - kb
    step, half = CHECK_STEP, CHECK_STEP // 2  # luma samples, chroma samples between two read
    u, v = u[::half, ::half], v[::half, ::half]
    down, across, cell_rows, cell_cols = _grid(*u.shape)
    used = cell_cols * across  # the sampled columns the cells cover
    ours, theirs = np.zeros((down, across, 3)), np.zeros((down, across, 3))
    for first, bands in _band_groups(down, cell_rows * used):
        top, stop = first * cell_rows, (first + bands) * cell_rows
        luma = y[step * top : step * stop : step, : step * used : step].astype(np.float32)
        cb = u[top:stop, :used].astype(np.float32) - 128
        cr = v[top:stop, :used].astype(np.float32) - 128
        if not full_range:
            luma, cb, cr = (luma - 16) * np.float32(255 / 219), cb * np.float32(255 / 224), cr * np.float32(255 / 224)
        r = luma + np.float32(2 * (1 - kr)) * cr
        b = luma + np.float32(2 * (1 - kb)) * cb
        g = (luma - np.float32(kr) * r - np.float32(kb) * b) / np.float32(kg)
        cells = slice(first, first + bands)
        for channel, colour in enumerate((r, g, b)):  # one channel at a time: no (rows, cols, 3) copy
            np.clip(colour, 0, 255, out=colour)
            ours[cells, :, channel] = _cell_sums(colour[:, :, None], cell_rows, cell_cols, bands, across)[:, :, 0]
        # a channel at a time: numpy sums a strided area's one channel faster in wasm
        for channel in range(3):
            drawn = engine_rows[top:stop, : step * used : step, channel, None]
            theirs[cells, :, channel] = _cell_sums(drawn, cell_rows, cell_cols, bands, across)[:, :, 0]
        yield
    return _verdict((ours - theirs) / (cell_rows * cell_cols))


def _verdict(difference: np.ndarray) -> dict:
    """{passed, luma_error, colour_error} of the cells' mean differences (cells down, across, R G B)."""
    luma_error = float(np.abs(difference @ np.array([0.299, 0.587, 0.114])).mean())
    colour_error = float(np.abs(difference).mean())
    passed = luma_error <= LUMA_LIMIT and colour_error <= COLOUR_LIMIT
    return {"passed": passed, "luma_error": round(luma_error, 2), "colour_error": round(colour_error, 2)}


def rgb_check(rgb: np.ndarray, engine_rows: np.ndarray) -> dict:
    """plane_check for a frame the engine hands out as RGB: the copy against the engine's canvas drawing of the
    same frame (both the engine's conversion, so they differ by rounding only), every CHECK_STEP rows and columns
    (`engine_rows` as for plane_check)."""
    return run_steps(rgb_check_steps(rgb, engine_rows))


def rgb_check_steps(rgb: np.ndarray, engine_rows: np.ndarray) -> Iterator[None]:
    """rgb_check, yielding after each group of bands of cells; returns its dict."""
    step = CHECK_STEP
    down, across, cell_rows, cell_cols = _grid(-(-rgb.shape[0] // step), -(-rgb.shape[1] // step))
    difference = np.zeros((down, across, 3))
    for first, bands in _band_groups(down, cell_rows * cell_cols * across):
        top, stop = first * cell_rows, (first + bands) * cell_rows
        ours = _cell_sums(rgb[step * top : step * stop : step, ::step], cell_rows, cell_cols, bands, across)
        theirs = _cell_sums(engine_rows[top:stop, ::step, :3], cell_rows, cell_cols, bands, across)
        difference[first : first + bands] = (ours - theirs) / (cell_rows * cell_cols)
        yield
    return _verdict(difference)
