"""Bad files in the browser: the same typed error as the native CLI, and the worker hashes the next file."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

from localhash import hash_bytes
from tests.conftest import PDQ_IMAGES, native_fields, require_corpus
from tests.site.conftest import hash_in_page


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def jpeg_bytes(size=(640, 480)) -> bytes:
    rng = np.random.default_rng(5)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def bad_files() -> dict[str, tuple[bytes, str]]:
    jpeg = jpeg_bytes()
    return {
        "empty": (b"", "empty_file"),
        "text renamed .jpg": (b"these are not the pixels you are looking for\n" * 20, "unsupported_format"),
        "HEIC without its boxes": (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64, "corrupt_image"),
        "AVIF without its boxes": (b"\0\0\0\x1cftypavif\0\0\0\0avifmif1" + b"\0" * 64, "corrupt_image"),
        "PDF": (b"%PDF-1.7\n" + b"0" * 200, "unsupported_format"),
        "truncated JPEG": (jpeg[: len(jpeg) // 2], "corrupt_image"),
        "JPEG header then garbage": (jpeg[:700] + bytes(range(256)) * 40, "corrupt_image"),
        "30000x30000 PNG header": (png_claiming(30000, 30000), "too_large"),
        "4x100 PNG": (_png(4, 100), "too_small"),
    }


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "gray").save(buffer, "PNG")
    return buffer.getvalue()


def test_each_bad_file_gets_its_typed_error_and_the_worker_survives(page):
    require_corpus()
    good = (PDQ_IMAGES / "misc-images/wee.jpg").read_bytes()
    for name, (data, code) in bad_files().items():
        assert hash_bytes(data)["error"]["code"] == code, f"native {name}"  # the expectation is the CLI's
        record = hash_in_page(page, data)
        assert record == hash_bytes(data) or record["error"]["code"] == code, f"{name}: {record}"
        assert record["ok"] is False and record["error"]["code"] == code, f"{name}: {record}"
        assert record["error"]["message"], name
        after = hash_in_page(page, good)  # the same worker carries on
        assert after["ok"] and native_fields(after) == hash_bytes(good), f"after {name}: {after}"
    assert page.errors == []
