"""Files people really drop on the page: each bad one gets its exact error code and a plain message."""

from __future__ import annotations

import hashlib
import io
import struct
import time
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from localhash import hash_bytes
from localhash.decode import DEFAULT_MAX_PIXELS
from localhash.errors import CORRUPT_IMAGE, EMPTY_FILE, TOO_LARGE, TOO_SMALL, UNSUPPORTED_FORMAT
from tests.conftest import CORPUS, require_corpus

PERCEPTUAL_KEYS = ("media", "pdq", "pdq_quality", "phash", "dhash", "ahash", "width", "height", "format")
# Pillow warns about the broken EXIF we feed it on purpose; the warning is not what is under test.
pytestmark = pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning", "ignore:Truncated File Read")


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def photo_like(width: int = 128, height: int = 96, seed: int = 7) -> Image.Image:
    """Gradients plus noise: compresses like a photo, so JPEG headers and scans have realistic sizes."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * 2) % 256, (y * 2) % 256, (x + y) % 256], axis=-1)
    noise = np.random.default_rng(seed).integers(0, 40, base.shape)
    return Image.fromarray((base + noise).clip(0, 255).astype(np.uint8))


JPEG = encode(photo_like(), "JPEG", quality=90)
PNG = encode(photo_like(), "PNG")


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG whose IHDR claims width x height (8-bit RGB) but whose IDAT holds a few bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + png_chunk(b"IEND", b"")
    )


def assert_error(record: dict, code: str) -> str:
    """The failure shape, the exact code, and a sentence a person can read; returns the message."""
    assert record.get("ok") is False and set(record) == {"ok", "error"}, record
    assert set(record["error"]) == {"code", "message"}, record
    assert record["error"]["code"] == code, f"expected {code}, got {record['error']}"
    message = record["error"]["message"]
    assert isinstance(message, str) and len(message) >= 10 and " " in message, message
    assert "Traceback" not in message
    return message


def jpeg_marker_offset(data: bytes, marker: bytes) -> int:
    offset = data.find(marker)
    assert offset > 0, marker
    return offset


def jpeg_end_of_headers(data: bytes) -> int:
    """The first byte of entropy-coded data: just past the start-of-scan segment."""
    sos = jpeg_marker_offset(data, b"\xff\xda")
    return sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")


PNG_IDAT = PNG.find(b"IDAT") - 4  # the chunk starts with its 4-byte length


# --- empty and not-a-picture ---------------------------------------------------------------


def test_empty_bytes_are_empty_file():
    assert_error(hash_bytes(b""), EMPTY_FILE)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"Dear diary,\nthis text file was renamed to holiday.jpg.\n" * 20, id="text_renamed_jpg"),
        pytest.param(np.random.default_rng(3).bytes(10_000), id="random_bytes"),
        pytest.param(b"<!DOCTYPE html><html><body>not a picture</body></html>", id="html"),
        pytest.param(b"\x00" * 4096, id="zeros"),
    ],
)
def test_non_pictures_are_unsupported_format(data):
    message = assert_error(hash_bytes(data), UNSUPPORTED_FORMAT)
    assert "JPEG" in message and "PNG" in message  # the generic message lists what does work


@pytest.mark.parametrize(
    ("data", "keyword"),
    [
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "PDF", id="pdf"),
    ],
)
def test_known_non_picture_formats_get_a_specific_message(data, keyword):
    message = assert_error(hash_bytes(data), UNSUPPORTED_FORMAT)
    assert keyword in message


@pytest.mark.corpus
def test_a_real_mp4_gets_its_exact_digests_only():
    videos = sorted((require_corpus() / "vpdq" / "videos").glob("*.mp4"))
    assert videos, f"no .mp4 under {CORPUS / 'vpdq' / 'videos'}"
    for video in videos[:2]:
        data = video.read_bytes()
        assert hash_bytes(data) == {
            "ok": True,
            "media": "video",
            "format": "MP4",
            "md5": hashlib.md5(data).hexdigest(),
            "sha256": hashlib.sha256(data).hexdigest(),
        }, video.name


# --- damaged pictures ----------------------------------------------------------------------

JPEG_CUTS = {
    "soi_and_next_marker": 4,
    "inside_quant_table": jpeg_marker_offset(JPEG, b"\xff\xdb") + 10,
    "inside_frame_header": jpeg_marker_offset(JPEG, b"\xff\xc0") + 5,
    "inside_scan_header": jpeg_marker_offset(JPEG, b"\xff\xda") + 6,
    "start_of_scan": jpeg_end_of_headers(JPEG) + 20,
    "middle_of_scan": (jpeg_end_of_headers(JPEG) + len(JPEG)) // 2,
    "missing_end_marker": len(JPEG) - 2,
}
PNG_CUTS = {
    "signature_only": 8,
    "inside_ihdr": 20,
    "after_ihdr": 33,
    "inside_idat_header": PNG_IDAT + 6,
    "middle_of_idat": (PNG_IDAT + len(PNG)) // 2,
}


@pytest.mark.parametrize("cut", JPEG_CUTS.values(), ids=JPEG_CUTS.keys())
def test_truncated_jpeg_is_corrupt_image(cut):
    assert hash_bytes(JPEG)["ok"] is True
    assert_error(hash_bytes(JPEG[:cut]), CORRUPT_IMAGE)


@pytest.mark.parametrize("cut", PNG_CUTS.values(), ids=PNG_CUTS.keys())
def test_truncated_png_is_corrupt_image(cut):
    assert hash_bytes(PNG)["ok"] is True
    assert_error(hash_bytes(PNG[:cut]), CORRUPT_IMAGE)


GARBAGE = np.random.default_rng(11).bytes(4000)
HEADER_THEN_GARBAGE = {
    "jpeg_all_headers": JPEG[: jpeg_end_of_headers(JPEG)] + GARBAGE,
    "jpeg_up_to_frame_header": JPEG[: jpeg_marker_offset(JPEG, b"\xff\xc0")] + GARBAGE,
    "png_signature_and_ihdr": PNG[:33] + GARBAGE,
    "png_up_to_idat_payload": PNG[: PNG_IDAT + 8] + GARBAGE,
}


@pytest.mark.parametrize("data", HEADER_THEN_GARBAGE.values(), ids=HEADER_THEN_GARBAGE.keys())
def test_valid_header_then_garbage_is_corrupt_image(data):
    assert_error(hash_bytes(data), CORRUPT_IMAGE)


# --- size guards ---------------------------------------------------------------------------


def test_huge_claimed_size_is_refused_before_any_pixel_is_allocated():
    data = png_claiming(30_000, 30_000)  # 900 MP: 2.7 GB of RGB if anyone believed it
    tracemalloc.start()
    started = time.perf_counter()
    try:
        record = hash_bytes(data)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_error(record, TOO_LARGE)
    assert peak < 50_000_000, f"peak traced allocation {peak:,} bytes"
    assert elapsed < 5.0, f"took {elapsed:.1f} s"


def test_size_just_over_the_default_limit_is_too_large_and_names_the_size():
    # One row over 2^28 px (268 MP), localhash's ceiling: Pillow's own decompression-bomb error would come
    # only at twice that, so this exercises localhash's check rather than Pillow's.
    assert DEFAULT_MAX_PIXELS == 1 << 28 and 16_385 * 16_384 > DEFAULT_MAX_PIXELS
    assert assert_error(hash_bytes(png_claiming(16_384, 16_384)), CORRUPT_IMAGE)  # at the limit: read, no data
    tracemalloc.start()
    try:
        record = hash_bytes(png_claiming(16_385, 16_384))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = assert_error(record, TOO_LARGE)
    assert "16385x16384" in message
    assert peak < 50_000_000


def test_the_browser_decodes_no_whole_picture_above_100_mp():
    """Pillow in the browser holds a whole picture at 4 bytes a pixel: 120 MP is refused there from the
    header (a browser-decoded JPEG that size is hashed in strips instead), and read natively."""
    from localhash import browser

    claimed = png_claiming(12_000, 10_000)
    assert "limit is 100,000,000" in assert_error(browser.hash_image(claimed), TOO_LARGE)
    assert_error(hash_bytes(claimed), CORRUPT_IMAGE)


def test_max_pixels_is_configurable():
    data = encode(photo_like(100, 100), "PNG")
    assert hash_bytes(data)["ok"] is True
    assert hash_bytes(data, max_pixels=10_000)["ok"] is True  # exactly at the limit is allowed
    message = assert_error(hash_bytes(data, max_pixels=5_000), TOO_LARGE)
    assert "100x100" in message
    assert_error(hash_bytes(data, max_pixels=9_999), TOO_LARGE)


def test_max_pixels_above_pillows_own_limit_is_honoured():
    # Pillow refuses anything over 2 * Image.MAX_IMAGE_PIXELS (about 179 MP) by itself. A caller
    # who allows 200 MP must get past that guard: this 182 MP header claims pixels it does not
    # carry, so the honest answer is corrupt_image (the decoder fails before touching memory).
    record = hash_bytes(png_claiming(14_000, 13_000), max_pixels=200_000_000)
    assert_error(record, CORRUPT_IMAGE)


@pytest.mark.parametrize("size", [(4, 100), (100, 4), (1, 1)])
def test_sides_under_five_pixels_are_too_small(size):
    message = assert_error(hash_bytes(encode(photo_like(*size), "PNG")), TOO_SMALL)
    assert f"{size[0]}x{size[1]}" in message


def test_five_by_five_is_the_smallest_hashable_picture():
    record = hash_bytes(encode(photo_like(5, 5), "PNG"))
    assert record["ok"] is True
    assert (record["width"], record["height"]) == (5, 5)


# --- polyglots and trailing bytes ------------------------------------------------------------


def zip_payload() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.txt", "hidden inside a picture")
    return buffer.getvalue()


HTML_PAYLOAD = b"<html><body><script>alert('polyglot')</script></body></html>"


@pytest.mark.parametrize("payload", [pytest.param(zip_payload(), id="zip"), pytest.param(HTML_PAYLOAD, id="html")])
def test_jpeg_polyglot_hashes_the_picture_but_digests_every_byte(payload):
    clean = hash_bytes(JPEG)
    polyglot = JPEG + payload
    record = hash_bytes(polyglot)
    assert record["ok"] is True, record
    assert {k: record[k] for k in PERCEPTUAL_KEYS} == {k: clean[k] for k in PERCEPTUAL_KEYS}
    assert record["md5"] == hashlib.md5(polyglot).hexdigest() != clean["md5"]
    assert record["sha256"] == hashlib.sha256(polyglot).hexdigest() != clean["sha256"]


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP", "TIFF", "BMP"])
def test_trailing_junk_after_other_formats_keeps_the_perceptual_hashes(fmt):
    clean_bytes = encode(photo_like(), fmt)
    clean = hash_bytes(clean_bytes)
    assert clean["ok"] is True and clean["format"] == fmt
    dirty_bytes = clean_bytes + zip_payload() + HTML_PAYLOAD
    record = hash_bytes(dirty_bytes)
    assert record["ok"] is True, record
    assert {k: record[k] for k in PERCEPTUAL_KEYS} == {k: clean[k] for k in PERCEPTUAL_KEYS}
    assert record["sha256"] == hashlib.sha256(dirty_bytes).hexdigest()


# --- EXIF ----------------------------------------------------------------------------------


def with_app1(jpeg: bytes, payload: bytes) -> bytes:
    """The JPEG with an APP1 (EXIF) segment inserted right after its start-of-image marker."""
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def tiff_ifd_with_orientation(field_type: int, count: int, value: int) -> bytes:
    return (
        b"Exif\x00\x00II*\x00"
        + struct.pack("<I", 8)
        + struct.pack("<H", 1)
        + struct.pack("<HHII", 0x0112, field_type, count, value)
        + b"\x00\x00\x00\x00"
    )


BROKEN_EXIF = {
    "garbage": b"Exif\x00\x00" + b"\x13\x37" * 20,
    "truncated_tiff_header": b"Exif\x00\x00II*",
    "ifd_offset_past_the_end": b"Exif\x00\x00II*\x00" + struct.pack("<I", 0xFFFFFF),
    "entry_count_past_the_end": b"Exif\x00\x00II*\x00" + struct.pack("<IH", 8, 0xFFFF) + b"\x00" * 12,
    "orientation_out_of_range": tiff_ifd_with_orientation(3, 1, 99),
    "orientation_wrong_type": tiff_ifd_with_orientation(2, 50, 1000),
}


@pytest.mark.parametrize("payload", BROKEN_EXIF.values(), ids=BROKEN_EXIF.keys())
def test_broken_exif_does_not_lose_the_hash(payload):
    clean = hash_bytes(JPEG)
    data = with_app1(JPEG, payload)
    record = hash_bytes(data)
    assert record["ok"] is True, record
    assert {k: record[k] for k in PERCEPTUAL_KEYS} == {k: clean[k] for k in PERCEPTUAL_KEYS}
    assert "pdq_oriented" not in record  # unreadable orientation counts as "as stored"
    assert record["sha256"] == hashlib.sha256(data).hexdigest()


def test_valid_exif_orientation_adds_the_oriented_hash():
    """The counterpart of the broken cases: the same segment with a readable orientation is used."""
    record = hash_bytes(with_app1(JPEG, tiff_ifd_with_orientation(3, 1, 6)))
    assert record["ok"] is True
    assert record["pdq"] == hash_bytes(JPEG)["pdq"]
    assert record["pdq_oriented"] != record["pdq"]


# --- colour modes Pillow opens but cannot convert everywhere ---------------------------------


def test_lab_tiff_is_hashed_or_refused_never_an_internal_error():
    # Photoshop and Pillow write CIELAB TIFFs; Pillow converts LAB to RGB but not to L.
    data = encode(photo_like().convert("LAB"), "TIFF")
    record = hash_bytes(data)
    if not record["ok"]:
        assert_error(record, UNSUPPORTED_FORMAT)
    else:
        assert all(record[k] for k in ("pdq", "phash", "dhash", "ahash"))


# --- input types ---------------------------------------------------------------------------


def test_bytes_bytearray_and_memoryview_give_the_same_record():
    expected = hash_bytes(JPEG)
    assert expected["ok"] is True
    assert hash_bytes(bytearray(JPEG)) == expected
    assert hash_bytes(memoryview(JPEG)) == expected
    assert hash_bytes(memoryview(b"xx" + JPEG)[2:]) == expected  # a slice of a bigger buffer
