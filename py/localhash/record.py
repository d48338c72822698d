"""One file's bytes in, one record out: the single entry point the CLI and the browser call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
from .errors import INTERNAL_ERROR, TOO_LARGE, LocalhashError
from .hashtypes import PDQ_MIN_QUALITY
from .imagehash_compat import imagehash_all, imagehash_of_grey
from .pdq import STRIP_PIXELS, PdqResult, pdq_hash_reference_cli, pdq_of_strips
from .pixelcheck import check_pixels
from .strips import StripHashes, hash_array, hash_strips
from .variants import WorkingCopy, pdq_copies, working_copy

Mode = Literal["full", "reference-cli"]
MODES = ("full", "reference-cli")


def _pdq_pixels(decoded: DecodedImage, mode: Mode) -> np.ndarray:
    # Meta's CLI reads greyscale files as one channel and uses the grey value as luma.
    if mode == "reference-cli" and decoded.image.mode in ("1", "L"):
        return np.asarray(decoded.image.convert("L"))
    return to_rgb_array(decoded.image)


def _pdq_in_memory(pixels: np.ndarray, orientation: int, mode: Mode, dihedral: bool) -> tuple[PdqResult, str | None]:
    """PDQ of pixels held whole, and of the picture as its orientation turns it (None for orientation 1)."""
    if mode == "reference-cli":
        pdq = pdq_hash_reference_cli(pixels, dihedral)
        turned = apply_orientation(pixels, orientation)
        return pdq, pdq_hash_reference_cli(turned).hash if orientation != 1 else None
    return pdq_of_strips(lambda top, height: pixels[top : top + height], *pixels.shape[:2], orientation, dihedral)


def _copies(work: np.ndarray, quality: int) -> dict[str, dict]:
    """The record's fields for the copies apps make, from the working copy (variants.py), hashed together."""
    variants, turned = pdq_copies(work, quality)
    return {"pdq_variants": variants, "pdq_turned": turned}


def _variants_in_memory(rgb: np.ndarray, orientation: int, quality: int) -> dict[str, dict]:
    """_copies of RGB pixels held whole, as people see them."""
    return _copies(working_copy(rgb, orientation), quality)


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
    # Whose decode is hashed when supplied pixels fail their check: Pillow's of the file, unless a decoder
    # localhash ships made the check's reference (libavif in wasm, for an AVIF in the browser: browser.AvifJob).
    fallback: Callable[[], DecodedImage] | None = None
    fallback_decoder: str = "pillow"
    variants: bool = False  # also the PDQ of the picture as apps re-frame it (variants.py)


def prepare_image(
    data: bytes,
    *,
    dihedral: bool = False,
    mode: Mode = "full",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    pixels_from_elsewhere: bool = False,
    variants: bool = False,
) -> PreparedImage:
    """The part of image_record that needs only the file's bytes: decode (or, when another decoder
    supplies a JPEG's pixels, check) and digests. Raises LocalhashError for a file that cannot be
    hashed. The browser runs this while its own JPEG decoder works on the same file."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    decoded = decode_image(data, max_pixels, check_only=pixels_from_elsewhere)
    return PreparedImage(
        data, decoded, digest_bytes(data), dihedral, mode, max_pixels, pixels_from_elsewhere, variants=variants
    )


def finish_image(prepared: PreparedImage, decoded_rgba: np.ndarray | None = None) -> dict:
    """Every hash of a prepared image: `decoded_rgba` is required when it was prepared with
    `pixels_from_elsewhere` (the full-size (rows, cols, 4) RGBA pixels of its JPEG). Those pixels are
    hashed only when they pass check_pixels; otherwise Pillow decodes the file and the record says why
    (`decoded_by`, `pixel_check`)."""
    decoded = prepared.decoded
    if not prepared.pixels_from_elsewhere:
        return _image_hashes(decoded, prepared.digests, prepared.mode, prepared.dihedral, prepared.variants)
    full_size = (decoded.height, decoded.width, 4)
    if decoded_rgba is None or decoded.format not in ("JPEG", "AVIF") or decoded_rgba.shape != full_size:
        raise ValueError("decoded_rgba must be the full-size RGBA pixels of a JPEG or AVIF file")
    if prepared.mode == "reference-cli":
        return _whole_picture_record(prepared, decoded_rgba)
    return strips_record(prepared, hash_array(decoded_rgba, strip_sweep(prepared)))


def strip_sweep(prepared: PreparedImage, strip_pixels: int = STRIP_PIXELS):
    """The sweep (strips.hash_strips) that checks and hashes the supplied pixels of a prepared picture."""
    decoded = prepared.decoded
    return hash_strips(
        decoded.height,
        decoded.width,
        decoded.orientation,
        decoded.image,
        prepared.dihedral,
        strip_pixels,
        variants=prepared.variants,
    )


def strips_record(prepared: PreparedImage, found: StripHashes, whole_decode_max_pixels: int | None = None) -> dict:
    """The record of a prepared picture whose supplied pixels were swept: their hashes when they passed
    the check, else the fallback decode of the file (Pillow's), saying why. `whole_decode_max_pixels` bounds
    Pillow's decode where memory is short (the browser: decode.WHOLE_DECODE_MAX_PIXELS)."""
    decoded_by = "browser" if found.check.passed else prepared.fallback_decoder
    source = {"decoded_by": decoded_by, "pixel_check": found.check.as_record()}
    if not found.check.passed:
        record = _image_hashes(
            _decode_instead(prepared, found.check, whole_decode_max_pixels),
            prepared.digests,
            prepared.mode,
            prepared.dihedral,
            prepared.variants,
        )
    else:
        decoded = prepared.decoded
        variants = _copies(found.work, found.pdq.quality) if found.work is not None else None
        record = _record(decoded, prepared.digests, found.pdq, found.pdq_oriented, prepared.dihedral, variants)
        record.update(imagehash_of_grey(found.grey))
    record.update(source)
    return record


def _decode_instead(prepared: PreparedImage, check, whole_decode_max_pixels: int | None) -> DecodedImage:
    """The fallback decode of a picture whose supplied pixels failed their check (Pillow's of a JPEG, or a
    typed error saying both when it is too large to decode whole here)."""
    if prepared.fallback:
        return prepared.fallback()
    limit = min(prepared.max_pixels, whole_decode_max_pixels or prepared.max_pixels)
    decoded = prepared.decoded
    if decoded.width * decoded.height > limit:
        raise LocalhashError(
            TOO_LARGE,
            f"this browser's decode of the picture failed its check ({check.message}), and the picture is "
            f"{decoded.width}x{decoded.height} pixels, too large to decode here instead (the limit is {limit:,})",
        )
    return decode_image(prepared.data, limit)


def _whole_picture_record(prepared: PreparedImage, decoded_rgba: np.ndarray) -> dict:
    """reference-cli mode (Meta's CLI samples 512x512 of the whole picture) on supplied pixels held whole."""
    decoded = prepared.decoded
    check = check_pixels(decoded_rgba, decoded.image)  # decoded.image is libjpeg's 1/8-scale decode
    if not check.passed:
        decoded = prepared.fallback() if prepared.fallback else decode_image(prepared.data, prepared.max_pixels)
        record = _image_hashes(decoded, prepared.digests, "reference-cli", prepared.dihedral, prepared.variants)
    else:
        grey_file = decoded.image.mode == "L"
        # No copies of the picture: Pillow wraps the buffer (its RGBA -> L conversion, used by the imagehash
        # part, is the RGB one and ignores alpha), and PDQ reads the RGB channels as a view.
        pixels = np.ascontiguousarray(decoded_rgba[:, :, 0]) if grey_file else decoded_rgba[:, :, :3]
        pdq, oriented = _pdq_in_memory(pixels, decoded.orientation, "reference-cli", prepared.dihedral)
        variants = None
        if prepared.variants:
            variants = _variants_in_memory(decoded_rgba[:, :, :3], decoded.orientation, pdq.quality)
        record = _record(decoded, prepared.digests, pdq, oriented, prepared.dihedral, variants)
        rgba_image = Image.frombuffer("RGBA", (decoded.width, decoded.height), decoded_rgba, "raw", "RGBA", 0, 1)
        record.update(imagehash_all(rgba_image))
    record.update(decoded_by="browser" if check.passed else prepared.fallback_decoder, pixel_check=check.as_record())
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
    variants: bool = False,
) -> dict:
    """Every hash of a picture whose (rows, cols, 4) RGBA pixels a decoder localhash ships decoded as
    this CPython's would (libheif compiled to wasm for HEIF, where Pyodide's Pillow has no HEIF decoder),
    already turned as people see it (orientation 1). The record says which decoder it was."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    rows, cols = rgba.shape[:2]
    image = Image.frombuffer("RGBA", (cols, rows), rgba, "raw", "RGBA", 0, 1)
    decoded = DecodedImage(image, format, cols, rows, frames, 1)
    pdq, _ = _pdq_in_memory(rgba[:, :, :3], 1, mode, dihedral)
    found = _variants_in_memory(rgba[:, :, :3], 1, pdq.quality) if variants else None
    record = _record(decoded, digest_bytes(data), pdq, None, dihedral, found)
    record.update(imagehash_all(image))
    record["decoded_by"] = decoded_by
    return record


def _image_hashes(
    decoded: DecodedImage, digests: dict[str, str], mode: Mode, dihedral: bool, variants: bool = False
) -> dict:
    """Every hash of a picture Pillow decoded."""
    image, cols = decoded.image, decoded.image.width
    found = None
    if mode == "reference-cli":
        pdq, oriented = _pdq_in_memory(_pdq_pixels(decoded, mode), decoded.orientation, mode, dihedral)
        if variants:
            found = _variants_in_memory(to_rgb_array(image), decoded.orientation, pdq.quality)
    else:
        # Converted to RGB strip by strip (a conversion is per pixel, so strip by strip equals the whole):
        # no RGB copy of the whole picture is ever made. The first sweep also feeds the working copy.
        copy = WorkingCopy(image.height, cols) if variants else None

        def read(top: int, height: int) -> np.ndarray:
            strip = to_rgb_array(image.crop((0, top, cols, top + height)))
            if copy is not None and top == copy.fed:
                copy.feed(strip)
            return strip

        pdq, oriented = pdq_of_strips(read, image.height, cols, decoded.orientation, dihedral)
        found = _copies(copy.picture(decoded.orientation), pdq.quality) if copy is not None else None
    record = _record(decoded, digests, pdq, oriented, dihedral, found)
    record.update(imagehash_all(decoded.image))
    return record


def _record(
    decoded: DecodedImage,
    digests: dict[str, str],
    pdq: PdqResult,
    oriented: str | None,
    dihedral: bool,
    copies: dict[str, dict] | None = None,
):
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
    if oriented is not None:
        # The reference hashes stored pixels; viewers (and platforms that re-encode uploads)
        # show them rotated, so we also give the hash of what the person sees.
        record["pdq_oriented"] = oriented
    if dihedral:
        record["pdq_dihedral"] = pdq.dihedral
    if copies is not None:
        # pdq_variants and pdq_turned; each {} when asked for but the picture's PDQ quality is too low
        record.update(copies)
    return record


def image_record(
    data: bytes,
    *,
    dihedral: bool = False,
    mode: Mode = "full",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    decoded_rgba: np.ndarray | None = None,
    variants: bool = False,
) -> dict:
    """Every hash of one image file. Raises LocalhashError for a file that cannot be hashed.

    `decoded_rgba` lets another decoder supply a JPEG's pixels as a contiguous (rows, cols, 4)
    array: the browser's libjpeg-turbo decodes as platforms' pipelines do (see web/MESSAGES.md).
    Everything else (format, size, EXIF, digests, typed errors) still comes from this file's bytes.
    `variants` adds `pdq_variants`, the PDQ of the picture as apps re-frame it (variants.py).
    """
    prepared = prepare_image(
        data,
        dihedral=dihedral,
        mode=mode,
        max_pixels=max_pixels,
        pixels_from_elsewhere=decoded_rgba is not None,
        variants=variants,
    )
    return finish_image(prepared, decoded_rgba)


def video_record(container: str, digests: dict[str, str]) -> dict:
    """A video's record: its exact hashes. `digests` may come from a HashStream fed by chunks."""
    return {"ok": True, "media": "video", "format": container, **digests}


def hash_bytes(
    data: bytes,
    *,
    dihedral: bool = False,
    mode: Mode = "full",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    variants: bool = False,
) -> dict:
    """Like image_record, but failures come back as `{"ok": false, "error": {code, message}}`."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")  # the caller's mistake, not the file's
    try:
        data = bytes(data)
        container = video_format(data[:VIDEO_SNIFF_BYTES])
        if container:
            return video_record(container, digest_bytes(data))
        return image_record(data, dihedral=dihedral, mode=mode, max_pixels=max_pixels, variants=variants)
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
