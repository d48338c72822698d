"""Whatever bytes arrive, hash_bytes answers with a well-formed record or a typed error, never a traceback."""

from __future__ import annotations

import hashlib
import io
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from localhash import hash_bytes
from localhash.errors import ERROR_CODES, INTERNAL_ERROR, INVALID_HASH

# hash_bytes never parses a hash string, so invalid_hash would be as wrong as internal_error.
ALLOWED_FAILURE_CODES = ERROR_CODES - {INTERNAL_ERROR, INVALID_HASH}
DECODED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP"}
VIDEO_FORMATS = {"MP4", "MOV", "3GP", "WEBM", "AVI"}
RECORD_KEYS = {
    "ok",
    "media",
    "format",
    "width",
    "height",
    "frames",
    "md5",
    "sha256",
    "pdq",
    "pdq_quality",
    "low_quality",
    "phash",
    "dhash",
    "ahash",
}
# Pillow warns (and libtiff prints) about the damage we feed it on purpose; only the result matters.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
HEX_LENGTHS = {"md5": 32, "sha256": 64, "pdq": 64, "phash": 16, "dhash": 16, "ahash": 16, "pdq_oriented": 64}

# Pillow decodes in well under a second, but its first call of a codec and an occasional slow
# path would trip hypothesis's 200 ms default; the example count bounds the run instead.
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Mutated headers can claim any size; a modest limit keeps a fuzzed example from allocating
# hundreds of megabytes before the decoder notices the data is missing.
FUZZ_MAX_PIXELS = 4_000_000

MAGIC_NUMBERS = {
    "jpeg": b"\xff\xd8\xff",
    "jpeg_jfif": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "png": b"\x89PNG\r\n\x1a\n",
    "png_ihdr": b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
    "gif87": b"GIF87a",
    "gif89": b"GIF89a",
    "webp": b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    "webp_lossless": b"RIFF\x00\x00\x00\x00WEBPVP8L",
    "tiff_le": b"II*\x00",
    "tiff_be": b"MM\x00*",
    "bmp": b"BM",
    "mp4": b"\x00\x00\x00\x18ftypisom",
    "mov": b"\x00\x00\x00\x14ftypqt  ",
    "webm": b"\x1a\x45\xdf\xa3",
    "avi": b"RIFF\x00\x00\x00\x00AVI ",
}


def assert_well_formed(record: dict, data: bytes) -> None:
    """The record contract: every hash present and spelled right, or exactly one typed error."""
    assert isinstance(record, dict)
    if record["ok"] is not True:
        assert record["ok"] is False
        assert set(record) == {"ok", "error"}
        assert set(record["error"]) == {"code", "message"}
        assert record["error"]["code"] in ALLOWED_FAILURE_CODES, record["error"]
        assert isinstance(record["error"]["message"], str) and record["error"]["message"].strip()
        return
    assert record["md5"] == hashlib.md5(data).hexdigest()
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    if record["media"] == "video":  # recognised by its container signature: exact digests only
        assert list(record) == ["ok", "media", "format", "md5", "sha256"]
        assert record["format"] in VIDEO_FORMATS
        return
    assert record["media"] == "image"
    assert RECORD_KEYS <= set(record) <= RECORD_KEYS | {"pdq_oriented"}
    for key, length in HEX_LENGTHS.items():
        if key in record:
            assert re.fullmatch(f"[0-9a-f]{{{length}}}", record[key]), (key, record[key])
    assert record["format"] in DECODED_FORMATS
    assert isinstance(record["width"], int) and record["width"] >= 5
    assert isinstance(record["height"], int) and record["height"] >= 5
    assert isinstance(record["frames"], int) and record["frames"] >= 1
    assert isinstance(record["pdq_quality"], int) and 0 <= record["pdq_quality"] <= 100
    assert record["low_quality"] is (record["pdq_quality"] < 50)


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _small_images() -> dict[str, bytes]:
    """One tiny valid file per format, in the modes those formats usually carry."""
    rng = np.random.default_rng(20240601)
    pixels = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    rgb = Image.fromarray(pixels)
    return {
        "jpeg": _encode(rgb, "JPEG", quality=80),
        "jpeg_progressive": _encode(rgb, "JPEG", quality=80, progressive=True),
        "png": _encode(rgb, "PNG"),
        "png_rgba": _encode(rgb.convert("RGBA"), "PNG"),
        "png_palette": _encode(rgb.convert("P"), "PNG"),
        "gif": _encode(rgb.convert("P"), "GIF"),
        "webp": _encode(rgb, "WEBP", quality=80),
        "webp_lossless": _encode(rgb, "WEBP", lossless=True),
        "tiff": _encode(rgb, "TIFF"),
        "tiff_grey_lzw": _encode(rgb.convert("L"), "TIFF", compression="tiff_lzw"),
        "bmp": _encode(rgb, "BMP"),
    }


SMALL_IMAGES = _small_images()


@pytest.mark.parametrize("name", sorted(SMALL_IMAGES))
def test_every_seed_image_hashes(name):
    """The mutation tests below start from these; each must be a file localhash can hash."""
    data = SMALL_IMAGES[name]
    record = hash_bytes(data)
    assert record["ok"] is True and record["media"] == "image", record
    assert_well_formed(record, data)


@FUZZ
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes_give_a_record_or_a_typed_error(data):
    assert_well_formed(hash_bytes(data), data)


@FUZZ
@given(magic=st.sampled_from(sorted(MAGIC_NUMBERS)), tail=st.binary(max_size=4096))
def test_magic_number_then_arbitrary_bytes(magic, tail):
    data = MAGIC_NUMBERS[magic] + tail
    assert_well_formed(hash_bytes(data, max_pixels=FUZZ_MAX_PIXELS), data)


@st.composite
def mutated_images(draw) -> bytes:
    """A small valid image with some bytes overwritten, a slice cut out or inserted, and maybe truncated."""
    original = SMALL_IMAGES[draw(st.sampled_from(sorted(SMALL_IMAGES)))]
    data = bytearray(original)
    for _ in range(draw(st.integers(0, 8))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    edit = draw(st.sampled_from(["none", "delete", "insert", "truncate"]))
    if edit == "delete":
        start = draw(st.integers(0, len(data) - 1))
        del data[start : start + draw(st.integers(1, 64))]
    elif edit == "insert":
        position = draw(st.integers(0, len(data)))
        data[position:position] = draw(st.binary(min_size=1, max_size=64))
    elif edit == "truncate":
        del data[draw(st.integers(0, len(data) - 1)) :]
    return bytes(data)


@FUZZ
@given(data=mutated_images())
def test_mutated_and_truncated_images(data):
    assert_well_formed(hash_bytes(data, max_pixels=FUZZ_MAX_PIXELS), data)


@FUZZ
@given(data=mutated_images(), dihedral=st.booleans(), mode=st.sampled_from(["full", "reference-cli"]))
def test_mutated_images_in_every_mode(data, dihedral, mode):
    record = hash_bytes(data, dihedral=dihedral, mode=mode, max_pixels=FUZZ_MAX_PIXELS)
    if record["ok"] and record["media"] == "image" and dihedral:
        variants = record.pop("pdq_dihedral")
        assert len(variants) == 8
        assert variants["original"] == record["pdq"]
        assert all(re.fullmatch("[0-9a-f]{64}", v) for v in variants.values())
    assert_well_formed(record, data)
