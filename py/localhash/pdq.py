"""Meta's PDQ: hash, quality and the eight dihedral variants, bit-exact with the reference core.

Follows ThreatExchange pdq/cpp/hashing/pdqhashing.cpp as wrapped by PyPI `pdqhash`, which is
what python-threatexchange and Hasher-Matcher-Actioner compute on `Image.convert("RGB")` pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .hexbits import pdq_bits_to_hex
from .jarosz import OUT_DIM, filter_and_decimate, filter_and_decimate_owned

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
    """PyPI pdqhash's luma, computed in numpy float64 then cast to float32 (bindings.pyx).

    Returned TRANSPOSED, (cols, rows), because the filter's first pass runs along the rows;
    computing tile by tile keeps the float64 temporaries in cache and makes the transpose free.
    """
    rows, cols, _ = rgb.shape
    luma_t = np.empty((cols, rows), np.float32)
    for i in range(0, rows, tile):
        for j in range(0, cols, tile):
            block = rgb[i : i + tile, j : j + tile]
            acc = block[:, :, 0] * 0.299
            acc += block[:, :, 1] * 0.587
            acc += block[:, :, 2] * 0.114
            luma_t[j : j + tile, i : i + tile] = acc.T
    return luma_t


def luma_like_reference_cli(rgb: np.ndarray) -> np.ndarray:
    """The C++ tool's fillFloatLumaFromRGB (float32 coefficients and arithmetic), transposed."""
    channels = [rgb[:, :, c].T.astype(np.float32) for c in range(3)]
    luma_t = channels[0] * np.float32(0.299)
    luma_t += channels[1] * np.float32(0.587)
    luma_t += channels[2] * np.float32(0.114)
    return luma_t


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


def pdq_from_luma(luma_t: np.ndarray, dihedral: bool = False) -> PdqResult:
    """Hash a float32 luma plane given transposed, (cols, rows)."""
    return _pdq_from_owned_luma([luma_t], dihedral)


def _pdq_from_owned_luma(planes: list[np.ndarray], dihedral: bool) -> PdqResult:
    """pdq_from_luma of the one plane in `planes`; a large plane is taken out and freed while it is
    filtered (jarosz.filter_and_decimate_owned), so the caller should hold no other reference."""
    cols, rows = planes[0].shape
    if rows < MIN_HASHABLE_DIM or cols < MIN_HASHABLE_DIM:
        raise ValueError(f"PDQ needs at least {MIN_HASHABLE_DIM} px on each side")
    # pdqFloat256FromFloatLuma skips the filter for an exactly 64x64 image...
    luma_t = planes[0] if (rows, cols) == (OUT_DIM, OUT_DIM) else None
    filtered = None if luma_t is not None else filter_and_decimate_owned(planes)
    block = np.ascontiguousarray(luma_t.T) if filtered is None else filtered
    quality = quality_metric(block)
    coefficients = dct64_to_16(block)
    if not dihedral:
        return PdqResult(dct_to_hex(coefficients), quality)
    # ...but the dihedral entry point has no such shortcut, so `pdqhash.compute_dihedral`
    # filters a 64x64 image anyway. Both are reproduced as they are.
    dihedral_source = coefficients if filtered is not None else dct64_to_16(filter_and_decimate(luma_t))
    variants = {name: dct_to_hex(v) for name, v in dihedral_coefficients(dihedral_source).items()}
    return PdqResult(dct_to_hex(coefficients), quality, variants)


def pdq_hash(rgb: np.ndarray, dihedral: bool = False) -> PdqResult:
    """PDQ of an RGB uint8 array (rows, cols, 3), as `pdqhash.compute` / `compute_dihedral`."""
    return _pdq_from_owned_luma([luma_like_pdqhash(rgb)], dihedral)


def pdq_hash_reference_cli(pixels: np.ndarray, dihedral: bool = False) -> PdqResult:
    """PDQ as Meta's `pdq-photo-hasher` computes it: shrink to 512x512 first, float32 luma.

    `pixels` is RGB (rows, cols, 3) or greyscale (rows, cols); the tool reads greyscale files
    as one channel and uses the grey value itself as luma.
    """
    small = nearest_512(pixels)
    luma_t = small.T.astype(np.float32) if small.ndim == 2 else luma_like_reference_cli(small)
    return _pdq_from_owned_luma([luma_t], dihedral)
