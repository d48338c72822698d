"""pHash, dHash and aHash of every corpus image equal imagehash 4.3's strings."""

from __future__ import annotations

import io

import imagehash
import numpy as np
import pytest
from PIL import Image

from localhash import hash_bytes
from localhash.imagehash_compat import median_of_even
from tests.conftest import PDQ_IMAGES, corpus_images

pytestmark = pytest.mark.corpus


def test_imagehash_is_the_version_localhash_follows():
    # imagehash 4.0 changed its hex spelling; localhash follows 4.3.x (imagehash_compat.py).
    assert imagehash.__version__.startswith("4.3.")


@pytest.mark.parametrize("path", corpus_images(), ids=lambda p: str(p.relative_to(PDQ_IMAGES)))
def test_imagehash_hashes_equal_imagehash(path):
    image = Image.open(path)
    expected = {
        "phash": str(imagehash.phash(image)),
        "dhash": str(imagehash.dhash(image)),
        "ahash": str(imagehash.average_hash(image)),
    }
    record = hash_bytes(path.read_bytes())
    assert record["ok"], record
    assert {name: record[name] for name in expected} == expected


def test_the_written_out_median_equals_numpys_to_the_bit():
    """pHash compares with the median of its 64 DCT values; localhash computes it without np.median
    (which imports numpy.ma). Equal bits, on values with ties, repeats and wide ranges."""
    rng = np.random.default_rng(2026)
    arrays = [rng.normal(0, scale, (8, 8)) for scale in (1e-3, 1.0, 1e3, 1e9)]
    arrays += [rng.integers(-3, 3, (8, 8)).astype(np.float64), np.full((8, 8), 0.1), rng.normal(0, 1, 64)]
    arrays += [rng.uniform(-1e6, 1e6, (4, 16)) for _ in range(200)]
    for values in arrays:
        ours, numpys = median_of_even(values), np.median(values)
        assert ours.tobytes() == np.float64(numpys).tobytes(), values


def test_where_phash_differs_from_imagehash_a_picture_without_detail_whose_bits_are_noise():
    """The README's caveat, its example: on a picture whose low-frequency DCT coefficients are all zero (a flat
    grey, a picture cut in two halves), pHash compares zeros with a median of zero. scipy's DCT (imagehash)
    gives exact zeros, so every bit but one is 0; our DCT, a matrix product, gives float noise around zero
    (1e-14), so the bits follow the noise. Neither says anything about the picture (PDQ calls the flat one
    quality 0). dHash and aHash compare pixels, not coefficients, and agree."""
    halves = np.repeat((np.arange(64) >= 32).astype(np.uint8)[None, :] * 255, 64, axis=0)
    for picture in (Image.new("RGB", (64, 64), (128, 128, 128)), Image.fromarray(halves).convert("RGB")):
        data = io.BytesIO()
        picture.save(data, "PNG")
        record = hash_bytes(data.getvalue())
        assert record["phash"] != str(imagehash.phash(picture))
        assert record["dhash"] == str(imagehash.dhash(picture))
        assert record["ahash"] == str(imagehash.average_hash(picture))
    flat = Image.new("RGB", (64, 64), (128, 128, 128))
    assert str(imagehash.phash(flat)) == "8000000000000000"
