"""Runs INSIDE Pyodide (under node, from site_build/trace_imports.mjs): the files the import trace hashes.

Every kind of file the site meets, one small example each: every format and mode localhash
opens, the multi-picture and animated variants, EXIF orientation, an ICC profile, and the
refusals (empty, damaged, too small, too large, not a picture, videos). They are made here, in a
Pyodide of their own, so that what Pillow imports to *write* them never counts as something
the site imports to *read* them.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image, PngImagePlugin


def _picture(width: int = 160, height: int = 120) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    noise = ((x * 7919 + y * 104729 + x * y) % 40).astype(np.uint8)  # texture, so that PDQ's quality is not zero
    red = ((x * 255) // width).astype(np.uint8) ^ noise
    green = ((y * 255) // height).astype(np.uint8)
    blue = (((x + y) * 127) // (width + height)).astype(np.uint8) + noise
    return Image.fromarray(np.stack([red, green, blue], axis=-1))


def _saved(image: Image.Image, fmt: str, **options) -> bytes | None:
    """The encoded file; None where this Pillow cannot write it (Pyodide's has no libtiff: no
    compressed TIFF), as then it cannot read it either and the site meets it only as an error."""
    out = io.BytesIO()
    try:
        image.save(out, fmt, **options)
    except OSError:
        return None
    return out.getvalue()


def _with_orientation(image: Image.Image, fmt: str, value: int, **options) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return _saved(image, fmt, exif=exif, **options)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a size, then a few compressed bytes: refused from the header."""
    header = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b"")


def _box(kind: bytes, body: bytes, version: int | None = None) -> bytes:
    head = b"" if version is None else bytes([version, 0, 0, 0])  # a FullBox: version and flags
    return struct.pack(">I", 8 + len(head) + len(body)) + kind + head + body


def _avif_boxes(width: int, height: int) -> bytes:
    """An AVIF's boxes (ftyp, then meta: primary item 1, its size, no rotation) without the AV1 data: what
    browser.AvifJob reads. This Pillow cannot write AVIF, and the browser path decodes none here."""
    properties = _box(b"ipco", _box(b"ispe", struct.pack(">II", width, height), 0) + _box(b"irot", b"\0"))
    associations = _box(b"ipma", struct.pack(">IHB", 1, 1, 2) + bytes([0x01, 0x02]), 0)
    meta = _box(b"hdlr", b"\0" * 4 + b"pict" + b"\0" * 13, 0) + _box(b"pitm", struct.pack(">H", 1), 0)
    meta += _box(b"iprp", properties + associations)
    return _box(b"ftyp", b"avif\0\0\0\0avifmif1miaf") + _box(b"meta", meta, 0)


def samples() -> dict[str, bytes]:
    rgb = _picture()
    grey = rgb.convert("L")
    frames = [rgb, rgb.rotate(90, expand=False), rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    text = PngImagePlugin.PngInfo()
    text.add_itxt("Comment", "trace \u00e9", lang="fr", tkey="Kommentar")
    text.add_text("Title", "latin-1 \xe9")
    jpeg = _saved(rgb, "JPEG", quality=90)
    png = _saved(rgb, "PNG")
    out = {
        "jpeg": jpeg,
        "jpeg-444-progressive": _saved(rgb, "JPEG", quality=95, subsampling=0, progressive=True),
        "jpeg-grey": _saved(grey, "JPEG"),
        "jpeg-cmyk": _saved(rgb.convert("CMYK"), "JPEG"),
        "jpeg-oriented": _with_orientation(rgb, "JPEG", 6),
        "jpeg-icc": _saved(rgb, "JPEG", icc_profile=b"\0" * 128),
        "jpeg-low-quality": _saved(rgb.resize((40, 30)).resize((160, 120)), "JPEG", quality=5),
        "mpo": _saved(rgb, "MPO", save_all=True, append_images=frames[1:2]),
        "png": png,
        "png-rgba": _saved(rgb.convert("RGBA"), "PNG"),
        "png-la": _saved(grey.convert("LA"), "PNG"),
        "png-palette": _saved(rgb.quantize(64), "PNG", transparency=0),
        "png-16bit": _saved(Image.fromarray(np.asarray(grey).astype(np.uint16) * 257), "PNG"),
        "png-1bit": _saved(grey.convert("1"), "PNG"),
        "png-text": _saved(rgb, "PNG", pnginfo=text),
        "png-oriented": _with_orientation(rgb, "PNG", 8),
        "apng": _saved(rgb, "PNG", save_all=True, append_images=frames[1:2]),
        "gif": _saved(rgb, "GIF"),
        "gif-animated": _saved(rgb, "GIF", save_all=True, append_images=frames[1:], transparency=0, duration=100),
        "webp-lossy": _saved(rgb, "WEBP", quality=80),
        "webp-lossless": _saved(rgb.convert("RGBA"), "WEBP", lossless=True),
        "webp-animated": _saved(rgb, "WEBP", save_all=True, append_images=frames[1:2]),
        "bmp": _saved(rgb, "BMP"),
        "bmp-palette": _saved(rgb.quantize(16), "BMP"),
        "bmp-1bit": _saved(grey.convert("1"), "BMP"),
        "bmp-rgba": _saved(rgb.convert("RGBA"), "BMP"),
        "tiff": _saved(rgb, "TIFF"),
        "tiff-lzw": _saved(rgb, "TIFF", compression="tiff_lzw"),
        "tiff-deflate": _saved(rgb, "TIFF", compression="tiff_adobe_deflate"),
        "tiff-packbits": _saved(grey, "TIFF", compression="packbits"),
        "tiff-jpeg": _saved(rgb, "TIFF", compression="jpeg"),
        "tiff-group4": _saved(grey.convert("1"), "TIFF", compression="group4"),
        "tiff-16bit": _saved(Image.fromarray(np.asarray(grey).astype(np.uint16) * 257), "TIFF"),
        "tiff-cmyk": _saved(rgb.convert("CMYK"), "TIFF"),
        "tiff-pages": _saved(rgb, "TIFF", save_all=True, append_images=frames[1:2]),
        "tiff-oriented": _with_orientation(rgb, "TIFF", 3),
        # refusals, named refused-<the error code each must come back with>-<what> (trace.py checks)
        "refused-empty_file-empty": b"",
        "refused-unsupported_format-not-a-picture": b"plain text, not a picture at all\n" * 4,
        "refused-unsupported_format-pdf": b"%PDF-1.7\n" + b"0" * 64,
        "refused-unsupported_format-heic": b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64,
        # an AVIF: Pillow refuses it here; the browser path (trace_imports.mjs) hashes the jpeg's pixels for it
        "refused-unsupported_format-avif": _avif_boxes(*rgb.size),
        "refused-corrupt_image-jpeg-truncated": jpeg[: len(jpeg) // 2],
        "refused-corrupt_image-jpeg-header-only": jpeg[:40],
        "refused-corrupt_image-jpeg-damaged": jpeg[:300] + bytes(range(256)) * 4 + jpeg[1324:],
        "refused-corrupt_image-png-truncated": png[: len(png) // 2],
        "refused-too_large-png-too-large": _png_claiming(40000, 40000),
        "refused-too_small-png-too-small": _saved(rgb.resize((4, 4)), "PNG"),
        "refused-corrupt_image-gif-header-only": b"GIF89a\x10\x00\x10\x00",
        "refused-unsupported_format-tiff-lab": _saved(
            Image.new("LAB", rgb.size, (50, 10, 20)), "TIFF"
        ),  # no colour management here
        # videos: their bytes are digested whole
        "mp4": b"\0\0\0\x18ftypisom\0\0\0\0isomiso2" + bytes(range(256)) * 8,
        "mov": b"\0\0\0\x14ftypqt  \0\0\0\0qt  " + bytes(range(256)) * 8,
        "webm": b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 8,
    }
    return {name: data for name, data in out.items() if data is not None}
