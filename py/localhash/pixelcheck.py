"""Are pixels decoded elsewhere (the browser) the picture in the file? Checked against a 1/8-scale reference:
libjpeg's 1/8 decode of a JPEG, or the 8x8 block means of a decoder localhash ships (libavif in wasm, AVIF)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

# Why 1/8 scale is a reference: libjpeg's scaled decode (jpeg_idct_1x1, jidctred.c) makes one pixel per 8x8
# block from the block's DC coefficient, which is the mean of the block's samples. Chroma upsampling and
# YCbCr -> RGB are linear but for clamping, so the mean RGB of a correctly decoded 8x8 block lands within
# about a level of that pixel, whichever decoder (libjpeg-turbo, IJG libjpeg 9, Apple's ImageIO) made the
# full-size pixels. Zeros, swapped channels, a colour-managed or brightened picture, a picture moved by one
# pixel or a different picture land outside. The limits below come from the corpus JPEGs, decoded in full by
# libjpeg-turbo and by IJG libjpeg 9 and checked against IJG's 1/8 decode (Pillow in Pyodide, what the browser
# runs); tests/core/test_pixelcheck.py prints the figures. A false alarm costs little (Pillow's decode is
# hashed instead, within a few bits of the browser's); a fault let through sends a wrong hash.
BLOCK = 8
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # JFIF's YCbCr weights (ITU-R BT.601)
# Mean |luma error| per 8x8 block, in levels of 255: correct decoders <= 0.51 on the corpus; a brightness
# shift of 8 levels gives >= 6.
LUMA_LIMIT = 1.0
# Mean |error| of the worst of R, G, B per 16x16 area: 4:2:0 JPEGs store colour per 16x16 pixels, and the two
# libjpegs rebuild it differently at colour edges (up to 3.7 per 8x8 block, <= 1.38 per 16x16 area); turning
# the picture's sRGB values into Display P3 or back, as colour management would, gives 0.25-12.8 (the small
# values on nearly grey pictures, whose PDQ moves by 0-4 bits).
COLOUR_LIMIT = 2.0
SWAP_MARGIN = 0.5  # with red and blue swapped the blocks fit better by more than this: swapped
SHIFT_RATIO = 0.8  # a neighbouring alignment fits better than 0.8x the given one (correct: >= 1.6x worse,
SHIFT_FLOOR = 0.05  # one-pixel shifts: <= 0.6x) by more than this (flat pictures fit every alignment alike)
# Enough blocks for steady figures at a few percent of a hash's time: pairs of block rows spread over the
# whole height (a 12 MP photo has 378 block rows), so that a picture missing its lower part is still seen.
MAX_PAIRS = 32


@dataclass(frozen=True)
class PixelCheck:
    """The verdict on supplied pixels; `code` names the fault when `passed` is false."""

    passed: bool
    luma_error: float
    colour_error: float
    code: str = ""
    message: str = ""

    def as_record(self) -> dict:
        record = {"passed": self.passed, "luma_error": self.luma_error, "colour_error": self.colour_error}
        if not self.passed:
            record.update(code=self.code, message=self.message)
        return record


def check_pixels(rgba: np.ndarray, reference: Image.Image) -> PixelCheck:
    """Compare full-size (rows, cols, 4) RGBA pixels of a JPEG with the same file decoded by libjpeg at 1/8
    scale (`reference`, mode RGB or L, ceil(cols/8) x ceil(rows/8)), or of an AVIF with block_means of
    libavif's decode. Only complete 8x8 blocks count: a JPEG encoder pads partial edge blocks with pixels
    no decoder shows."""
    rows, cols = rgba.shape[:2]
    block_rows, block_cols = rows // BLOCK, cols // BLOCK
    if reference.size != (-(-cols // BLOCK), -(-rows // BLOCK)) or block_rows < 2 or block_cols < 2:
        return PixelCheck(False, -1.0, -1.0, "not_checkable", "the picture is too small to check its pixels")
    pairs = _pairs(block_rows)
    picked = np.stack([pairs, pairs + 1], axis=1).ravel()
    expected = np.asarray(reference.convert("RGB"), np.float32)[picked, :block_cols]
    strips = _strip_sums(rgba, picked)
    means = (strips[:, : block_cols * BLOCK].reshape(len(picked), block_cols, 4 * BLOCK) @ _CHANNEL_SUMS) / 64
    difference = means - expected
    luma_error = float(np.abs(difference @ LUMA).mean())
    areas = difference[:, : block_cols // 2 * 2].reshape(len(pairs), 2, block_cols // 2, 2, 3).mean(axis=(1, 3))
    colour_error = float(np.abs(areas).mean(axis=(0, 1)).max())
    check = {"luma_error": round(luma_error, 2), "colour_error": round(colour_error, 2)}
    as_given = float(np.abs(difference).mean())
    swapped = float(np.abs(means[..., ::-1] - expected).mean())
    if swapped + SWAP_MARGIN < as_given:
        return PixelCheck(False, **check, code="channels_swapped", message="red and blue are swapped")
    if luma_error > LUMA_LIMIT or colour_error > COLOUR_LIMIT:
        return PixelCheck(
            False, **check, code="pixels_differ", message="the decoded pixels are not the picture in the file"
        )
    shift = _better_alignment(rgba, picked, strips, expected)
    if shift:
        return PixelCheck(
            False, **check, code="pixels_shifted", message=f"the picture is moved by one pixel (rows, columns: {shift})"
        )
    return PixelCheck(True, **check)


def block_means(pixels: np.ndarray) -> Image.Image:
    """The reference check_pixels wants, made from full-size (rows, cols, 3 or 4) pixels of a decoder we trust
    (libavif in wasm for an AVIF, browser.AvifJob): each complete 8x8 block's mean RGB, rounded, which is what
    libjpeg's 1/8 decode gives of a JPEG. Partial edge blocks, which check_pixels never reads, stay 0. A band
    of block rows at a time, so a turned (non-contiguous) view costs no whole copy."""
    rows, cols = pixels.shape[:2]
    block_rows, block_cols = rows // BLOCK, cols // BLOCK
    means = np.zeros((-(-rows // BLOCK), -(-cols // BLOCK), 3), np.uint8)
    band = 64
    for first in range(0, block_rows, band):
        count = min(band, block_rows - first)
        area = pixels[first * BLOCK : (first + count) * BLOCK, : block_cols * BLOCK, :3].astype(np.uint16)
        sums = area.reshape(count, BLOCK, block_cols, BLOCK, 3).sum(axis=(1, 3), dtype=np.uint32)
        means[first : first + count, :block_cols] = (sums + 32) // 64
    return Image.fromarray(means, "RGB")


def _pairs(block_rows: int) -> np.ndarray:
    """The first block row of each pair of block rows compared."""
    return np.arange(0, block_rows - 1, 2 * max(1, block_rows // (2 * MAX_PAIRS)))


class SampledRows:
    """The pixel rows check_pixels reads of a (rows, cols, 4) picture, gathered while the picture's strips
    go past (record.hash_strips): check_pixels(SampledRows, reference) is check_pixels(picture, reference),
    for a few hundred rows' memory (pairs of 8-row block rows, and the rows next to them for the shift)."""

    def __init__(self, shape: tuple[int, int, int]) -> None:
        self.shape = shape
        rows = shape[0]
        starts = _pairs(rows // BLOCK) * BLOCK
        wanted = (starts[:, None] + np.arange(-1, 2 * BLOCK + 1)).ravel()
        self.indices = np.unique(wanted[(wanted >= 0) & (wanted < rows)])
        self.rows = np.zeros((len(self.indices),) + tuple(shape[1:]), np.uint8)

    def take(self, top: int, strip: np.ndarray) -> None:
        """Keep the rows check_pixels reads of the picture's rows top .. top + len(strip)."""
        first, last = np.searchsorted(self.indices, [top, top + len(strip)])
        self.rows[first:last] = strip[self.indices[first:last] - top]

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        return self.rows[np.searchsorted(self.indices, index)]


# Summing R, G, B over 8 pixels of a strip is one matrix product: (..., 8 pixels x 4 channels) @ (32, 3).
_CHANNEL_SUMS = np.kron(np.ones((BLOCK, 1), np.float32), np.eye(4, 3, dtype=np.float32))
_LUMA4 = np.append(LUMA, np.float32(0))  # luma of RGBA, alpha ignored


def _strip_sums(rgba: np.ndarray, picked: np.ndarray) -> np.ndarray:
    """For each picked block row i, the sum of pixel rows 8i..8i+7: (len(picked), cols, 4) float32."""
    first = picked * BLOCK
    out = rgba[first].astype(np.uint16)  # 8 x 255 fits
    for row in range(1, BLOCK):
        out += rgba[first + row]
    return out.astype(np.float32)


def _luma_rows(rgba: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return rgba[rows].astype(np.float32) @ _LUMA4


def _better_alignment(
    rgba: np.ndarray, picked: np.ndarray, strips: np.ndarray, expected: np.ndarray
) -> tuple[int, int] | None:
    """(dy, dx) when the blocks one pixel away match the reference clearly better than the blocks
    themselves; inner blocks only, so every alignment stays inside the picture."""
    block_rows, block_cols = rgba.shape[0] // BLOCK, expected.shape[1]
    inner = (picked >= 1) & (picked <= block_rows - 2)
    if block_cols < 3 or not inner.any():
        return None
    first = picked[inner] * BLOCK
    luma = strips[inner] @ _LUMA4
    moved_rows = {  # strips one row lower / higher: swap the row that leaves for the one that enters
        0: luma,
        1: luma - _luma_rows(rgba, first) + _luma_rows(rgba, first + BLOCK),
        -1: luma - _luma_rows(rgba, first + BLOCK - 1) + _luma_rows(rgba, first - 1),
    }
    target = expected[inner, 1:-1] @ LUMA
    ones = np.ones(BLOCK, np.float32)
    errors = {}
    for dy, moved in moved_rows.items():
        for dx in (-1, 0, 1):
            window = moved[:, BLOCK + dx : BLOCK + dx + (block_cols - 2) * BLOCK]
            block_luma = (window.reshape(len(window), block_cols - 2, BLOCK) @ ones) / 64
            errors[dy, dx] = float(np.abs(block_luma - target).mean())
    given = errors.pop((0, 0))
    best = min(errors, key=errors.get)
    if errors[best] < SHIFT_RATIO * given and given - errors[best] > SHIFT_FLOOR:
        return best
    return None
