"""pHash, dHash and aHash of every corpus image equal imagehash 4.3's strings."""

from __future__ import annotations

import imagehash
import pytest
from PIL import Image

from localhash import hash_bytes
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
