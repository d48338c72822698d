"""Bit order and hex spelling of every hash type, frozen by golden vectors from pdqhash, imagehash and Meta."""

from __future__ import annotations

import hashlib

import imagehash
import numpy as np
import pdqhash
import pytest
from PIL import Image

from localhash import HASH_TYPES, LocalhashError, hash_bytes
from localhash.hexbits import hamming_hex, imagehash_bits_to_hex, pdq_bits_to_hex, pdq_hex_to_bits
from tests.conftest import PDQ_IMAGES, require_corpus


def threatexchange_hex(bits) -> str:
    """python-threatexchange's spelling of a pdqhash bit vector (first element is the most significant bit)."""
    return "%064x" % int("".join(str(int(b)) for b in bits), 2)  # noqa: UP031  pytx spells it so, verbatim


def meta_hash256_format(bits: np.ndarray) -> str:
    """Meta's Hash256::format(), written out independently (pdq/cpp/common/pdqhashtypes.cpp):
    bit k lives in 16-bit word k >> 4 at position k & 15, and words are printed "%04hx", word 15 first."""
    words = [0] * 16
    for k in np.flatnonzero(bits):
        words[k >> 4] |= 1 << (k & 15)
    return "".join(f"{words[w]:04x}" for w in range(15, -1, -1))


# Frozen on 2026-11-29 with pdqhash 0.2.8 and ImageHash 4.3.2 by running, for each file:
#   im = Image.open(path); bits, q = pdqhash.compute(np.asarray(im.convert("RGB")))
#   "%064x" % int("".join(str(int(b)) for b in bits), 2), q, str(imagehash.phash(im)),
#   str(imagehash.dhash(im)), str(imagehash.average_hash(im))
# test_golden_values_are_what_the_references_compute re-derives them from the references at test time,
# so a silent change of bit order in a reference release fails here instead of corrupting stored hashes.
# wee.jpg's and rgb.jpeg's PDQ are also quoted upstream (ThreatExchange pdq/wasm/test/TestData/PDQMD5TestData.csv
# and python-threatexchange tests/hashing/test_pdq_hasher.py respectively).
GOLDEN = {
    "misc-images/wee.jpg": {
        "pdq": "6227401f601ff4ccafcc9fad4b0d95d371a2eb7265a3285234d228ca94deeb2d",
        "pdq_quality": 100,
        "phash": "de5a3d2925256627",
        "dhash": "33a9a929d6a9c6c7",
        "ahash": "00dcf4d400fcfff7",
    },
    "pytx-resources/rgb.jpeg": {
        "pdq": "fb4eed46cb8a6c78819ca06b756c541f7b07ef6d02c82fccd00f862166272cda",
        "pdq_quality": 100,
        "phash": "99e8f745f81b111a",
        "dhash": "2a231032b1d26a18",
        "ahash": "98c11c191d6a0d87",
    },
    "reg-test-input/labelme-subset/q0291.jpg": {
        "pdq": "a0fe94f1e5cc1cc8dd855948498dc9243f7ca27336f036d7f212b74bc103c9a7",
        "pdq_quality": 100,
        "phash": "f672e069a0358776",
        "dhash": "94195c1c38381880",
        "ahash": "c0cc86868480c8ff",
    },
}

# misc-images/small.jpg as quoted by Meta in pdq/wasm/test/TestData/PDQMD5TestData.csv,
# pdq/python/pdqhashing/tests/pdq_test.py and pdq/sql/README.md. Its 16x16 DCT signs form a
# staircase, which makes the word layout visible: each group of four hex digits is one DCT row,
# row 15 printed first, and within a row column 0 is the least significant bit.
SMALL_JPG_PDQ = "0007001f003f003f007f00ff00ff00ff01ff01ff01ff03ff03ff03ff03ff03ff"
SMALL_JPG_ONES_PER_DCT_ROW = [10, 10, 10, 10, 10, 9, 9, 9, 8, 8, 8, 7, 6, 6, 5, 3]


def reference_hashes(path) -> dict:
    image = Image.open(path)
    bits, quality = pdqhash.compute(np.asarray(image.convert("RGB")))
    return {
        "pdq": threatexchange_hex(bits),
        "pdq_quality": quality,
        "phash": str(imagehash.phash(image)),
        "dhash": str(imagehash.dhash(image)),
        "ahash": str(imagehash.average_hash(image)),
    }


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_values_are_what_the_references_compute(name):
    require_corpus()
    assert reference_hashes(PDQ_IMAGES / name) == GOLDEN[name]


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_localhash_reproduces_golden_values(name):
    require_corpus()
    record = hash_bytes((PDQ_IMAGES / name).read_bytes())
    assert {key: record[key] for key in GOLDEN[name]} == GOLDEN[name]


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_pdqhash_bit_vector_is_localhash_bits_most_significant_first(name):
    """pdqhash returns bit 255 first; localhash indexes bits by DCT coefficient (bit 0 = coefficient 0)."""
    require_corpus()
    bits, _ = pdqhash.compute(np.asarray(Image.open(PDQ_IMAGES / name).convert("RGB")))
    reference_bits = np.asarray(bits, dtype=bool)
    assert pdq_bits_to_hex(reference_bits[::-1]) == GOLDEN[name]["pdq"]
    assert np.array_equal(pdq_hex_to_bits(GOLDEN[name]["pdq"])[::-1], reference_bits)


@pytest.mark.corpus
def test_meta_quoted_small_jpg_hash_lays_out_one_dct_row_per_hex_word():
    require_corpus()
    assert hash_bytes((PDQ_IMAGES / "misc-images/small.jpg").read_bytes())["pdq"] == SMALL_JPG_PDQ
    dct_signs = pdq_hex_to_bits(SMALL_JPG_PDQ).reshape(16, 16)
    for row, ones in enumerate(SMALL_JPG_ONES_PER_DCT_ROW):
        expected = np.arange(16) < ones  # the lowest `ones` frequencies of this row are set
        assert np.array_equal(dct_signs[row], expected), f"DCT row {row}"


@pytest.mark.parametrize("k", [0, 1, 3, 4, 15, 16, 17, 100, 127, 128, 240, 254, 255])
def test_single_pdq_bit_lands_in_meta_hash256_word_layout(k):
    bits = np.zeros(256, dtype=bool)
    bits[k] = True
    spelled = pdq_bits_to_hex(bits)
    assert spelled == meta_hash256_format(bits)
    assert spelled == f"{1 << k:064x}"
    assert np.array_equal(pdq_hex_to_bits(spelled), bits)


def test_pdq_bit_0_is_last_hex_digit_and_bit_255_is_first():
    first, last = np.zeros(256, dtype=bool), np.zeros(256, dtype=bool)
    first[0], last[255] = True, True
    assert pdq_bits_to_hex(first) == "0" * 63 + "1"
    assert pdq_bits_to_hex(last) == "8" + "0" * 63
    # bit 16 opens Hash256 word 1: the second group of four digits from the right
    assert pdq_bits_to_hex(np.arange(256) == 16) == "0" * 59 + "10000"


def test_pdq_bits_hex_round_trip_on_random_vectors():
    rng = np.random.default_rng(2024)
    for _ in range(200):
        bits = rng.random(256) < rng.random()
        spelled = pdq_bits_to_hex(bits)
        assert spelled == meta_hash256_format(bits)
        assert len(spelled) == 64 and spelled == spelled.lower()
        assert np.array_equal(pdq_hex_to_bits(spelled), bits)


def test_pdq_hex_bits_round_trip_on_random_hex():
    rng = np.random.default_rng(7)
    for _ in range(200):
        spelled = rng.bytes(32).hex()
        bits = pdq_hex_to_bits(spelled)
        assert bits.shape == (256,) and bits.dtype == bool
        assert pdq_bits_to_hex(bits) == spelled
        assert pdq_bits_to_hex(pdq_hex_to_bits(spelled.upper())) == spelled


def test_pdq_bits_accept_a_16x16_dct_grid_in_row_major_order():
    grid = np.zeros((16, 16), dtype=bool)
    grid[1, 0] = True  # coefficient 16
    assert pdq_bits_to_hex(grid) == pdq_bits_to_hex(np.arange(256) == 16)


def test_imagehash_first_element_is_most_significant_bit():
    first, last = np.zeros((8, 8), dtype=bool), np.zeros((8, 8), dtype=bool)
    first[0, 0], last[7, 7] = True, True
    assert imagehash_bits_to_hex(first) == "8000000000000000"
    assert imagehash_bits_to_hex(last) == "0000000000000001"


@pytest.mark.parametrize("hash_size", [8, 5, 16])
def test_imagehash_bits_to_hex_spells_as_imagehash_does(hash_size):
    rng = np.random.default_rng(hash_size)
    for _ in range(50):
        bits = rng.random((hash_size, hash_size)) < 0.5
        assert imagehash_bits_to_hex(bits) == str(imagehash.ImageHash(bits))


def test_hamming_hex_counts_differing_bits():
    rng = np.random.default_rng(3)
    for _ in range(50):
        a, b = rng.bytes(32).hex(), rng.bytes(32).hex()
        assert hamming_hex(a, b) == int(np.count_nonzero(pdq_hex_to_bits(a) != pdq_hex_to_bits(b)))
    assert hamming_hex("0" * 64, "f" * 64) == 256


def test_hash_types_have_the_widths_of_their_algorithms():
    widths = {name: hash_type.bits for name, hash_type in HASH_TYPES.items()}
    assert widths == {"pdq": 256, "phash": 64, "dhash": 64, "ahash": 64, "md5": 128, "sha256": 256}
    assert HASH_TYPES["md5"].hex_length == len(hashlib.md5(b"").hexdigest())
    assert HASH_TYPES["sha256"].hex_length == len(hashlib.sha256(b"").hexdigest())


@pytest.mark.corpus
def test_every_hash_in_a_record_is_already_canonical():
    require_corpus()
    record = hash_bytes((PDQ_IMAGES / "misc-images/wee.jpg").read_bytes())
    for name, hash_type in HASH_TYPES.items():
        assert hash_type.validate(record[name]) == record[name]


@pytest.mark.parametrize("name", sorted(HASH_TYPES))
def test_validate_strips_and_lowercases(name):
    hash_type = HASH_TYPES[name]
    canonical = ("0123456789abcdef" * 4)[: hash_type.hex_length]
    assert hash_type.validate(canonical) == canonical
    assert hash_type.validate(f"  {canonical.upper()}\n") == canonical
    assert hash_type.validate(f"\t{canonical}\r\n") == canonical


@pytest.mark.parametrize("name", sorted(HASH_TYPES))
@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda h: h[:-1], id="one-digit-short"),
        pytest.param(lambda h: h + "0", id="one-digit-long"),
        pytest.param(lambda h: "", id="empty"),
        pytest.param(lambda h: "   ", id="blank"),
        pytest.param(lambda h: "g" + h[1:], id="non-hex-letter"),
        pytest.param(lambda h: "0x" + h[2:], id="0x-prefix"),
        pytest.param(lambda h: h[:4] + " " + h[5:], id="inner-space"),
        pytest.param(lambda h: h[:4] + "-" + h[5:], id="dash"),
        pytest.param(lambda h: "\uff10" + h[1:], id="fullwidth-digit"),
        pytest.param(lambda h: "\u0660" + h[1:], id="arabic-indic-digit"),
        pytest.param(lambda h: h + h, id="doubled"),
    ],
)
def test_validate_rejects_malformed_hashes(name, spoil):
    hash_type = HASH_TYPES[name]
    canonical = ("0123456789abcdef" * 4)[: hash_type.hex_length]
    with pytest.raises(LocalhashError) as caught:
        hash_type.validate(spoil(canonical))
    assert caught.value.code == "invalid_hash"
    assert caught.value.as_record()["code"] == "invalid_hash"


@pytest.mark.parametrize("value", [None, 12345, b"0" * 64, ["0" * 64]])
def test_validate_rejects_non_strings(value):
    with pytest.raises(LocalhashError) as caught:
        HASH_TYPES["pdq"].validate(value)
    assert caught.value.code == "invalid_hash"


def test_pdq_distance_validates_both_sides():
    pdq = HASH_TYPES["pdq"]
    assert pdq.distance("F" * 64, " " + "0" * 64) == 256
    with pytest.raises(LocalhashError) as caught:
        pdq.distance("0" * 64, "0" * 16)
    assert caught.value.code == "invalid_hash"
