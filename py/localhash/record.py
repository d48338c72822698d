"""One file's bytes in, one record out: the single entry point the CLI and the browser call."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from PIL import Image

from .decode import (
    DEFAULT_MAX_PIXELS,
    VIDEO_SNIFF_BYTES,
    DecodedImage,
    apply_orientation,
    decode_image,
    to_rgb_array,
    video_format,
)
from .digests import digest_bytes
from .errors import INTERNAL_ERROR, LocalhashError
from .hashtypes import PDQ_MIN_QUALITY
from .imagehash_compat import imagehash_all
from .pdq import PdqResult, pdq_hash, pdq_hash_reference_cli
from .pixelcheck import check_pixels

Mode = Literal["full", "reference-cli"]
MODES = ("full", "reference-cli")


def _pdq_pixels(decoded: DecodedImage, mode: Mode) -> np.ndarray:
    # Meta's CLI reads greyscale files as one channel and uses the grey value as luma.
    if mode == "reference-cli" and decoded.image.mode in ("1", "L"):
        return np.asarray(decoded.image.convert("L"))
    return to_rgb_array(decoded.image)


def _pdq(pixels: np.ndarray, mode: Mode, dihedral: bool) -> PdqResult:
    if mode == "reference-cli":
        return pdq_hash_reference_cli(pixels, dihedral)
    return pdq_hash(pixels, dihedral)


@dataclass(frozen=True)
class PreparedImage:
    """An image file checked and digested, waiting for its pixels (see prepare_image)."""

    data: bytes
    decoded: DecodedImage
    digests: dict[str, str]
    dihedral: bool
    mode: Mode
    max_pixels: int
    pixels_from_elsewhere: bool


def prepare_image(
    data: bytes,
    *,
    dihedral: bool = False,
    mode: Mode = "full",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    pixels_from_elsewhere: bool = False,
) -> PreparedImage:
    """The part of image_record that needs only the file's bytes: decode (or, when another decoder
    supplies a JPEG's pixels, check) and digests. Raises LocalhashError for a file that cannot be
    hashed. The browser runs this while its own JPEG decoder works on the same file."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    decoded = decode_image(data, max_pixels, check_only=pixels_from_elsewhere)
    return PreparedImage(data, decoded, digest_bytes(data), dihedral, mode, max_pixels, pixels_from_elsewhere)


def finish_image(prepared: PreparedImage, decoded_rgba: np.ndarray | None = None) -> dict:
    """Every hash of a prepared image: `decoded_rgba` is required when it was prepared with
    `pixels_from_elsewhere` (the full-size (rows, cols, 4) RGBA pixels of its JPEG). Those pixels are
    hashed only when they pass check_pixels; otherwise Pillow decodes the file and the record says why
    (`decoded_by`, `pixel_check`)."""
    decoded, mode, dihedral = prepared.decoded, prepared.mode, prepared.dihedral
    source = {}
    supplied = prepared.pixels_from_elsewhere
    if supplied:
        if decoded_rgba is None or decoded.format != "JPEG" or decoded_rgba.shape != (decoded.height, decoded.width, 4):
            raise ValueError("decoded_rgba must be the full-size RGBA pixels of a JPEG file")
        check = check_pixels(decoded_rgba, decoded.image)  # decoded.image is libjpeg's 1/8-scale decode
        supplied = check.passed
        source = {"decoded_by": "browser" if supplied else "pillow", "pixel_check": check.as_record()}
        if not supplied:
            decoded = decode_image(prepared.data, prepared.max_pixels)
    if not supplied:
        pixels = _pdq_pixels(decoded, mode)
    else:
        grey_file = decoded.image.mode == "L"
        # No copies of 12 MP: Pillow wraps the buffer (its RGBA -> L conversion, used by the imagehash
        # part, is the RGB one and ignores alpha), and PDQ reads the RGB channels as a view.
        rgba_image = Image.frombuffer("RGBA", (decoded.width, decoded.height), decoded_rgba, "raw", "RGBA", 0, 1)
        decoded = replace(decoded, image=rgba_image)
        grey_cli = mode == "reference-cli" and grey_file
        pixels = np.ascontiguousarray(decoded_rgba[:, :, 0]) if grey_cli else decoded_rgba[:, :, :3]
    record = _image_hashes(decoded, pixels, prepared.digests, mode, dihedral)
    record.update(source)
    return record


def decoded_elsewhere_record(
    data: bytes,
    rgba: np.ndarray,
    *,
    format: str,
    frames: int,
    decoded_by: str,
    dihedral: bool = False,
    mode: Mode = "full",
) -> dict:
    """Every hash of a picture whose (rows, cols, 4) RGBA pixels a decoder localhash ships decoded as
    this CPython's would (libheif compiled to wasm for HEIF, where Pyodide's Pillow has no HEIF decoder),
    already turned as people see it (orientation 1). The record says which decoder it was."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    rows, cols = rgba.shape[:2]
    image = Image.frombuffer("RGBA", (cols, rows), rgba, "raw", "RGBA", 0, 1)
    decoded = DecodedImage(image, format, cols, rows, frames, 1)
    record = _image_hashes(decoded, rgba[:, :, :3], digest_bytes(data), mode, dihedral)
    record["decoded_by"] = decoded_by
    return record


def _image_hashes(
    decoded: DecodedImage, pixels: np.ndarray, digests: dict[str, str], mode: Mode, dihedral: bool
) -> dict:
    pdq = _pdq(pixels, mode, dihedral)
    record = {
        "ok": True,
        "media": "image",
        "format": decoded.format,
        "width": decoded.width,
        "height": decoded.height,
        "frames": decoded.frames,
        **digests,
        "pdq": pdq.hash,
        "pdq_quality": pdq.quality,
        "low_quality": pdq.quality < PDQ_MIN_QUALITY,
    }
    if decoded.orientation != 1:
        # The reference hashes stored pixels; viewers (and platforms that re-encode uploads)
        # show them rotated, so we also give the hash of what the person sees.
        record["pdq_oriented"] = _pdq(apply_orientation(pixels, decoded.orientation), mode, False).hash
    if dihedral:
        record["pdq_dihedral"] = pdq.dihedral
    record.update(imagehash_all(decoded.image))
    return record


def image_record(
    data: bytes,
    *,
    dihedral: bool = False,
    mode: Mode = "full",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    decoded_rgba: np.ndarray | None = None,
) -> dict:
    """Every hash of one image file. Raises LocalhashError for a file that cannot be hashed.

    `decoded_rgba` lets another decoder supply a JPEG's pixels as a contiguous (rows, cols, 4)
    array: the browser's libjpeg-turbo decodes as platforms' pipelines do (see web/MESSAGES.md).
    Everything else (format, size, EXIF, digests, typed errors) still comes from this file's bytes.
    """
    prepared = prepare_image(
        data, dihedral=dihedral, mode=mode, max_pixels=max_pixels, pixels_from_elsewhere=decoded_rgba is not None
    )
    return finish_image(prepared, decoded_rgba)


def video_record(container: str, digests: dict[str, str]) -> dict:
    """A video's record: its exact hashes. `digests` may come from a HashStream fed by chunks."""
    return {"ok": True, "media": "video", "format": container, **digests}


def hash_bytes(
    data: bytes, *, dihedral: bool = False, mode: Mode = "full", max_pixels: int = DEFAULT_MAX_PIXELS
) -> dict:
    """Like image_record, but failures come back as `{"ok": false, "error": {code, message}}`."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")  # the caller's mistake, not the file's
    try:
        data = bytes(data)
        container = video_format(data[:VIDEO_SNIFF_BYTES])
        if container:
            return video_record(container, digest_bytes(data))
        return image_record(data, dihedral=dihedral, mode=mode, max_pixels=max_pixels)
    except Exception as exc:
        return failure_record(exc)


def failure_record(exc: Exception) -> dict:
    """`{"ok": false, "error": {code, message}}` for a failure: the file's typed error, or
    internal_error for a bug of ours (still one typed record, never a traceback)."""
    if isinstance(exc, LocalhashError):
        return {"ok": False, "error": exc.as_record()}
    if isinstance(exc, ImportError):  # the site ships only the modules it imports (site_build/trim.py)
        message = f"this copy of localhash lacks a module it needs ({exc})"
        return {"ok": False, "error": {"code": INTERNAL_ERROR, "message": message}}
    return {"ok": False, "error": {"code": INTERNAL_ERROR, "message": f"unexpected {type(exc).__name__}"}}
