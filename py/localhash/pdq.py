"""Meta's PDQ: hash, quality and the eight dihedral variants, bit-exact with the reference core.

Follows ThreatExchange pdq/cpp/hashing/pdqhashing.cpp as wrapped by PyPI `pdqhash`, which is
what python-threatexchange and Hasher-Matcher-Actioner compute on `Image.convert("RGB")` pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .hexbits import pdq_bits_to_hex
from .jarosz import OUT_DIM, JaroszStream, as_bands, filter_and_decimate, filter_and_decimate_many

# The reference refuses to hash an image with a side under 5 px (pdqhashing.cpp MIN_HASHABLE_DIM).
MIN_HASHABLE_DIM = 5
# Meta's command-line tool and WASM demo shrink any image wider or taller than this to exactly
# 512x512 by nearest neighbour before hashing (pdq/cpp/io/pdqio.cpp DOWNSAMPLE_DIMS, CImg resize).
REFERENCE_CLI_DIM = 512

# The order of pdqDihedralHash256esFromFloatLuma's outputs.
DIHEDRAL_NAMES = ("original", "rot90", "rot180", "rot270", "flipx", "flipy", "flipplus1", "flipminus1")


def _dct_matrix() -> np.ndarray:
    """dct_matrix_64: float scale times double cosine, stored as float (pdqhashing.cpp)."""
    scale = float(np.float32(math.sqrt(2.0 / 64)))
    return np.array(
        [[scale * math.cos((math.pi / 2.0 / 64) * (i + 1) * (2 * j + 1)) for j in range(64)] for i in range(16)],
        dtype=np.float32,
    )


_DCT = _dct_matrix()


@dataclass(frozen=True)
class PdqResult:
    hash: str
    quality: int
    dihedral: dict[str, str] | None = None


def luma_like_pdqhash(rgb: np.ndarray, tile: int = 256) -> np.ndarray:
    """PyPI pdqhash's luma, (rows, cols) float32: computed in numpy float64 then cast (bindings.pyx).
    Tile by tile, so that the float64 temporaries stay in cache."""
    rows, cols, _ = rgb.shape
    luma = np.empty((rows, cols), np.float32)
    for i in range(0, rows, tile):
        for j in range(0, cols, tile):
            block = rgb[i : i + tile, j : j + tile]
            acc = block[:, :, 0] * 0.299
            acc += block[:, :, 1] * 0.587
            acc += block[:, :, 2] * 0.114
            luma[i : i + tile, j : j + tile] = acc
    return luma


# fillFloatLumaFromRGB's float weights of red, green and blue (ITU-R BT.601's luma).
REFERENCE_CLI_WEIGHTS = (np.float32(0.299), np.float32(0.587), np.float32(0.114))


def luma_like_reference_cli(rgb: np.ndarray) -> np.ndarray:
    """The C++ tool's fillFloatLumaFromRGB (float32 coefficients and arithmetic), (rows, cols)."""
    return luma_of_channels(rgb[:, :, c] for c in range(3))


def luma_of_channels(channels) -> np.ndarray:
    """luma_like_reference_cli of the red, green and blue planes given one after the other (integers, each read
    before the next is asked for): each one's float times its weight, summed in that order, float32."""
    luma = None
    for channel, weight in zip(channels, REFERENCE_CLI_WEIGHTS, strict=True):
        if luma is None:
            luma = np.multiply(channel, weight, dtype=np.float32)
        else:
            luma += np.multiply(channel, weight, dtype=np.float32)
    return luma


def nearest_512(pixels: np.ndarray) -> np.ndarray:
    """CImg's nearest-neighbour resize to 512x512 (source index floor(dst * n / 512))."""
    rows, cols = pixels.shape[:2]
    if rows <= REFERENCE_CLI_DIM and cols <= REFERENCE_CLI_DIM:
        return pixels
    ri = np.arange(REFERENCE_CLI_DIM) * rows // REFERENCE_CLI_DIM
    ci = np.arange(REFERENCE_CLI_DIM) * cols // REFERENCE_CLI_DIM
    return pixels[ri[:, None], ci[None, :]]


def quality_metric(block: np.ndarray) -> int:
    """pdqImageDomainQualityMetric: truncated float32 neighbour gradients, summed, / 90, max 100."""
    hundred, full = np.float32(100), np.float32(255)
    vertical = np.trunc((block[:-1, :] - block[1:, :]) * hundred / full).astype(np.int64)
    horizontal = np.trunc((block[:, :-1] - block[:, 1:]) * hundred / full).astype(np.int64)
    gradient_sum = int(np.abs(vertical).sum() + np.abs(horizontal).sum())
    return min(100, gradient_sum // 90)


def dct64_to_16(block: np.ndarray) -> np.ndarray:
    """dct64To16: D A D^T with float32 products summed in the reference's order (k = 0..63)."""
    partial = np.zeros((16, 64), np.float32)
    for k in range(64):
        partial += _DCT[:, k : k + 1] * block[k : k + 1, :]
    out = np.zeros((16, 16), np.float32)
    for k in range(64):
        out += partial[:, k : k + 1] * _DCT[:, k][None, :]
    return out


def dct_to_hex(coefficients: np.ndarray) -> str:
    """pdqBuffer16x16ToBits: bit set where the coefficient exceeds Torben's median.

    Torben's median of 256 values is always the 128th smallest (the lower median), which
    `np.partition` finds exactly.
    """
    flat = coefficients.ravel()
    median = np.partition(flat, 127)[127]
    return pdq_bits_to_hex(flat > median)


_ODD = np.where(np.arange(16) % 2 == 1, 1, -1).astype(np.float32)  # +1 on odd indices, -1 on even


def dihedral_coefficients(c: np.ndarray) -> dict[str, np.ndarray]:
    """The reference's dct16OriginalTo* transforms: sign flips and transposes of one 16x16 DCT.

    Negation is exact in float, so each variant hashes exactly as the reference's.
    """
    row_odd, col_odd = _ODD[:, None], _ODD[None, :]
    checker = np.outer(_ODD, _ODD)  # -1 where i + j is odd
    return {
        "original": c,
        "rot90": (c * col_odd).T,
        "rot180": c * checker,
        "rot270": (c * row_odd).T,
        "flipx": c * row_odd,
        "flipy": c * col_odd,
        "flipplus1": c.T,
        "flipminus1": (c * checker).T,
    }


DIHEDRAL_NAMES = ("original", "rot90", "rot180", "rot270", "flipx", "flipy", "flipplus1", "flipminus1")

# Rows per strip: about this many pixels, so that a strip's floats take a few tens of MB at most.
STRIP_PIXELS = 1 << 22


def strip_rows(cols: int, strip_pixels: int = STRIP_PIXELS) -> int:
    """How many rows of a picture `cols` wide go in one strip."""
    return max(1, strip_pixels // cols)


class PdqStream:
    """PDQ of a picture whose RGB rows arrive in strips (rows, cols, >= 3 channels), bit-exact with
    `pdqhash.compute` of the whole picture, never holding more than a strip's floats.

    `orientation` (EXIF 1-8) hashes the picture as a viewer turns it (decode.apply_orientation) without
    turning a pixel: each stored row is read right to left (`mirrored`), the strips are fed from the
    bottom (`bottom_up`: the caller feeds them in that order, each strip's rows still top to bottom),
    and the filter runs down the columns first (`transposed`).
    """

    def __init__(self, rows: int, cols: int, orientation: int = 1) -> None:
        if rows < MIN_HASHABLE_DIM or cols < MIN_HASHABLE_DIM:
            raise ValueError(f"PDQ needs at least {MIN_HASHABLE_DIM} px on each side")
        self.transposed = orientation >= 5
        self.mirrored = orientation in (2, 3, 7, 8)
        self.bottom_up = orientation in (3, 4, 6, 7)
        # pdqFloat256FromFloatLuma skips the filter for an exactly 64x64 image: its luma is kept instead.
        self.unfiltered: list[np.ndarray] | None = [] if (rows, cols) == (OUT_DIM, OUT_DIM) else None
        self.stream = None if self.unfiltered is not None else JaroszStream(rows, cols, self.transposed)

    def feed(self, rgb: np.ndarray) -> None:
        """The next strip of stored rows (in the order `bottom_up` says)."""
        self.feed_luma(luma_like_pdqhash(rgb))

    def feed_luma(self, luma: np.ndarray) -> None:
        """Like feed, given the strip's float32 luma (rows, cols)."""
        for _ in self.feed_luma_steps(luma):
            pass

    def feed_luma_steps(self, luma: np.ndarray) -> Iterator[None]:
        """feed_luma, yielding between the filter's passes (JaroszStream.feed_steps)."""
        if self.bottom_up:
            luma = luma[::-1]
        if self.mirrored:
            luma = luma[:, ::-1]
        if self.unfiltered is not None:
            self.unfiltered.append(luma)
        else:
            yield from self.stream.feed_steps(np.ascontiguousarray(luma))

    def result(self, dihedral: bool = False) -> PdqResult:
        """The hash, its quality and, with `dihedral`, the eight derived variants."""
        if self.stream is not None:
            return _pdq_of_block(self.stream.block(), dihedral)
        luma = np.concatenate(self.unfiltered)
        luma = np.ascontiguousarray(luma.T if self.transposed else luma)
        result = _pdq_of_block(luma, False)
        if not dihedral:
            return result
        # ...but the dihedral entry point has no such shortcut: `pdqhash.compute_dihedral` filters a
        # 64x64 image anyway. Both are reproduced as they are.
        return PdqResult(result.hash, result.quality, _pdq_of_block(filter_and_decimate(luma), True).dihedral)


def _pdq_of_block(block: np.ndarray, dihedral: bool) -> PdqResult:
    quality = quality_metric(block)
    coefficients = dct64_to_16(block)
    variants = None
    if dihedral:
        variants = {name: dct_to_hex(v) for name, v in dihedral_coefficients(coefficients).items()}
    return PdqResult(dct_to_hex(coefficients), quality, variants)


class PdqSweeps:
    """PDQ of a picture and, for an EXIF orientation other than 1, of the picture as it turns it
    (`pdq_oriented`), from strips of stored rows fed from the top (`feed`), then, when the turn starts
    PDQ's passes at the bottom (`second_sweep`), once more from the bottom (`feed_second`). Each strip's
    luma is computed once for both hashes."""

    def __init__(self, rows: int, cols: int, orientation: int = 1) -> None:
        self.original = PdqStream(rows, cols)
        self.oriented = PdqStream(rows, cols, orientation) if orientation != 1 else None
        self.second_sweep = self.oriented is not None and self.oriented.bottom_up

    def feed(self, rgb: np.ndarray) -> None:
        luma = luma_like_pdqhash(rgb)
        self.original.feed_luma(luma)
        if self.oriented is not None and not self.second_sweep:
            self.oriented.feed_luma(luma)

    def feed_second(self, rgb: np.ndarray) -> None:
        self.oriented.feed(rgb)

    def result(self, dihedral: bool = False) -> tuple[PdqResult, str | None]:
        """The picture's PDQ (with `dihedral`, its eight variants) and the turned picture's hash, or None."""
        return self.original.result(dihedral), self.oriented.result().hash if self.oriented else None


def pdq_of_strips(
    read: Callable[[int, int], np.ndarray],
    rows: int,
    cols: int,
    orientation: int = 1,
    dihedral: bool = False,
    strip_pixels: int = STRIP_PIXELS,
) -> tuple[PdqResult, str | None]:
    """PdqSweeps of a (rows, cols) picture whose RGB rows top .. top + height `read(top, height)` gives."""
    sweeps = PdqSweeps(rows, cols, orientation)
    height = strip_rows(cols, strip_pixels)
    tops = range(0, rows, height)
    for top in tops:
        sweeps.feed(read(top, min(height, rows - top)))
    if sweeps.second_sweep:
        for top in reversed(tops):
            sweeps.feed_second(read(top, min(height, rows - top)))
    return sweeps.result(dihedral)


def pdq_hash(rgb: np.ndarray, dihedral: bool = False) -> PdqResult:
    """PDQ of an RGB uint8 array (rows, cols, 3), as `pdqhash.compute` / `compute_dihedral`."""
    return pdq_of_strips(lambda top, height: rgb[top : top + height], *rgb.shape[:2], dihedral=dihedral)[0]


def pdq_of_lumas(planes: list[np.ndarray | list[np.ndarray]]) -> list[PdqResult]:
    """PDQ of each float32 luma plane (rows, cols), or list of bands of rows stacked top to bottom, bit for bit
    as PdqStream of each plane alone, for many small planes: their Jarosz passes share Python loops
    (jarosz.filter_and_decimate_many)."""
    bands, shapes = as_bands(planes)
    if any(min(shape) < MIN_HASHABLE_DIM for shape in shapes):
        raise ValueError(f"PDQ needs at least {MIN_HASHABLE_DIM} px on each side")
    # an exactly 64x64 plane is its own block, unfiltered, as in PdqStream
    blocks = [
        np.concatenate(plane) if shape == (OUT_DIM, OUT_DIM) else None
        for plane, shape in zip(bands, shapes, strict=True)
    ]
    filtered = [i for i, block in enumerate(blocks) if block is None]
    for i, block in zip(filtered, filter_and_decimate_many([bands[i] for i in filtered]), strict=True):
        blocks[i] = block
    return [_pdq_of_block(np.ascontiguousarray(block), False) for block in blocks]


def pdq_hash_reference_cli(pixels: np.ndarray, dihedral: bool = False) -> PdqResult:
    """PDQ as Meta's `pdq-photo-hasher` computes it: shrink to 512x512 first, float32 luma.

    `pixels` is RGB (rows, cols, 3) or greyscale (rows, cols); the tool reads greyscale files
    as one channel and uses the grey value itself as luma.
    """
    small = nearest_512(pixels)
    stream = PdqStream(*small.shape[:2])
    stream.feed_luma(small.astype(np.float32) if small.ndim == 2 else luma_like_reference_cli(small))
    return stream.result(dihedral)
