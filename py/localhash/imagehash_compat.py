"""pHash, dHash and aHash exactly as imagehash 4.3 computes them, without scipy.

Each follows imagehash/__init__.py: greyscale with `convert("L")`, a Lanczos resize, then a
comparison. pHash's DCT is scipy.fftpack's unnormalised DCT-II, written here as a matrix
product (only the 8 lowest frequencies are kept, so only 8 rows of the matrix are needed).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .hexbits import imagehash_bits_to_hex

HASH_SIZE = 8  # imagehash's default hash_size: 64-bit hashes
PHASH_HIGHFREQ_FACTOR = 4  # imagehash's default: pHash resizes to 32x32
_LANCZOS = Image.Resampling.LANCZOS  # imagehash's ANTIALIAS


def _dct_ii_rows(n: int, keep: int) -> np.ndarray:
    """scipy.fftpack.dct(type=2, norm=None): y[k] = 2 * sum_n x[n] cos(pi k (2n + 1) / 2N)."""
    k = np.arange(keep)[:, None]
    i = np.arange(n)[None, :]
    return 2.0 * np.cos(np.pi * k * (2 * i + 1) / (2 * n))


_PHASH_DCT = _dct_ii_rows(HASH_SIZE * PHASH_HIGHFREQ_FACTOR, HASH_SIZE)


def median_of_even(values: np.ndarray) -> np.float64:
    """np.median of an even number of values, to the bit: numpy averages the two middle values
    as (a + b) / 2 in float64. Written out because np.median imports numpy.ma (to ask whether
    its input is a masked array), which the site then would have to download: 0.1 MB."""
    middle = values.size // 2
    assert values.size % 2 == 0, "the odd case is np.median's middle value, not written out here"
    part = np.partition(values.ravel(), [middle - 1, middle])
    return (part[middle - 1] + part[middle]) / 2.0


def phash(grey: Image.Image) -> str:
    """imagehash.phash: 32x32 Lanczos, 2-D DCT-II, low 8x8 block above its median."""
    size = HASH_SIZE * PHASH_HIGHFREQ_FACTOR
    pixels = np.asarray(grey.resize((size, size), _LANCZOS), dtype=np.float64)
    low = _PHASH_DCT @ pixels @ _PHASH_DCT.T
    return imagehash_bits_to_hex(low > median_of_even(low))


def dhash(grey: Image.Image) -> str:
    """imagehash.dhash: 9x8 Lanczos, each pixel brighter than its left neighbour."""
    pixels = np.asarray(grey.resize((HASH_SIZE + 1, HASH_SIZE), _LANCZOS))
    return imagehash_bits_to_hex(pixels[:, 1:] > pixels[:, :-1])


def ahash(grey: Image.Image) -> str:
    """imagehash.average_hash: 8x8 Lanczos, each pixel above the mean."""
    pixels = np.asarray(grey.resize((HASH_SIZE, HASH_SIZE), _LANCZOS))
    return imagehash_bits_to_hex(pixels > np.mean(pixels))


def imagehash_all(image: Image.Image) -> dict[str, str]:
    """All three from one `convert("L")` of the decoded image (imagehash converts each time;
    the conversion is deterministic, so once is the same)."""
    try:
        grey = image.convert("L")
    except ValueError:
        # Pillow has no direct conversion from a few modes (LAB, HSV) to L; imagehash itself would
        # raise here. Going through RGB still gives a greyscale picture rather than no hash at all.
        grey = image.convert("RGB").convert("L")
    return imagehash_of_grey(grey)


def imagehash_of_grey(grey: Image.Image) -> dict[str, str]:
    """All three of a picture already converted to mode L."""
    return {"phash": phash(grey), "dhash": dhash(grey), "ahash": ahash(grey)}
