"""The browser's entry into localhash, called by web/worker.js through Pyodide.

Bytes in, record out: the same record `python -m localhash hash` prints (without "file").
JavaScript typed arrays arrive as Pyodide JsProxy objects; `_as_bytes` copies them into Python.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from .decode import VIDEO_SNIFF_BYTES, check_size, picture_container, video_format
from .digests import HashStream
from .errors import CORRUPT_IMAGE, EMPTY_FILE, UNSUPPORTED_FORMAT, LocalhashError
from .record import decoded_elsewhere_record, failure_record, finish_image, hash_bytes, prepare_image, video_record


def _as_bytes(data) -> bytes:
    return data.to_bytes() if hasattr(data, "to_bytes") else bytes(data)


def sniff_video(head) -> str | None:
    """The video container named by a file's first bytes, or None for anything else."""
    return video_format(_as_bytes(head)[:VIDEO_SNIFF_BYTES])


def decoder_for(data) -> str:
    """Who decodes this file's pixels: "browser" for a colour or greyscale JPEG (the page's decoder,
    checked: JpegJob), "libheif" for a HEIF (libheif in wasm, which the worker loads only then: HeifJob),
    else "pillow". CMYK JPEGs stay with Pillow: browsers convert CMYK with colour management,
    pdqhash's `convert("RGB")` does not."""
    data = _as_bytes(data)
    if picture_container(data) == "HEIF":
        return "libheif"
    try:
        with Image.open(io.BytesIO(data), formats=("JPEG",)) as image:
            return "browser" if image.mode in ("RGB", "L") else "pillow"
    except Exception:
        return "pillow"  # whatever is wrong, Pillow's decoder reports it as a typed error


def hash_image(data, dihedral: bool = False, mode: str = "full") -> dict:
    """Every hash of one image file's bytes, Pillow decoding; failures come back as typed error records."""
    return hash_bytes(_as_bytes(data), dihedral=bool(dihedral), mode=str(mode))


class JpegJob:
    """A JPEG whose pixels the page decodes (see decoder_for), in two steps so the two overlap.

    Constructing it checks the file with Pillow (a 1/8-scale decode) and takes its digests while the
    page's decoder works; `error` is then the typed error record, or None. `buffer(width, height)`
    gives the array the worker copies the decoded RGBA pixels into (None when they do not fit the
    file); `record()` checks them against the 1/8-scale decode and hashes them, or, when they fail
    the check, Pillow's own decode (record.finish_image). `record_without_pixels` is for when the
    browser gave none. Both steps together equal `record.image_record(data, decoded_rgba=...)`.
    """

    def __init__(self, data, dihedral: bool = False, mode: str = "full") -> None:
        self.data = _as_bytes(data)
        self.dihedral, self.mode = bool(dihedral), str(mode)
        self.pixels: np.ndarray | None = None
        self.prepared = None
        self.error: dict | None = None
        try:
            self.prepared = prepare_image(self.data, dihedral=self.dihedral, mode=self.mode, pixels_from_elsewhere=True)
        except Exception as exc:
            self.error = failure_record(exc)

    def buffer(self, width: int, height: int) -> np.ndarray | None:
        decoded = self.prepared.decoded
        if (int(width), int(height)) != (decoded.width, decoded.height):
            return None  # e.g. a browser that applied the EXIF orientation after all
        self.pixels = np.empty((decoded.height, decoded.width, 4), np.uint8)
        return self.pixels

    def record(self) -> dict:
        try:
            return finish_image(self.prepared, self.pixels)
        except Exception as exc:
            return failure_record(exc)

    def record_without_pixels(self, code: str, message: str) -> dict:
        """Pillow's record of the file, saying why the browser's pixels were not used."""
        record = hash_bytes(self.data, dihedral=self.dihedral, mode=self.mode)
        if record["ok"]:
            check = {"passed": False, "code": str(code), "message": str(message)}
            record.update(decoded_by="pillow", pixel_check=check)
        return record


class HeifJob:
    """A HEIF photo, decoded by libheif compiled to wasm (npm libheif-js: the same libheif as the native
    extra pillow-heif), which the worker runs; Pyodide's Pillow has no HEIF decoder.

    The worker reads the file's primary image's size and the number of images from libheif; `error`
    is then the typed error record for a size that cannot be hashed, or None. `buffer()` gives the array
    libheif's RGBA pixels (already turned as HEIF's rotation and mirror say) are copied into, and
    `record()` hashes them: the native record, up to what the two libde265 builds decode differently
    (README: measured on the corpus).
    """

    def __init__(self, data, width: int, height: int, images: int, dihedral: bool = False, mode: str = "full"):
        self.data = _as_bytes(data)
        self.width, self.height, self.images = int(width), int(height), int(images)
        self.dihedral, self.mode = bool(dihedral), str(mode)
        self.pixels: np.ndarray | None = None
        self.error: dict | None = None
        try:
            check_size(self.width, self.height)
        except Exception as exc:
            self.error = failure_record(exc)

    def buffer(self) -> np.ndarray:
        self.pixels = np.empty((self.height, self.width, 4), np.uint8)
        return self.pixels

    def record(self) -> dict:
        try:
            return decoded_elsewhere_record(
                self.data,
                self.pixels,
                format="HEIF",
                frames=self.images,
                decoded_by="libheif",
                dihedral=self.dihedral,
                mode=self.mode,
            )
        except Exception as exc:
            return failure_record(exc)


def heif_not_decoded(data, message: str, unsupported: bool = False) -> dict:
    """The record of a HEIF libheif could not read or decode, with libheif's own reason: unsupported_format
    for a feature libheif does not have, else corrupt_image."""
    if len(_as_bytes(data)) == 0:
        return failure_record(LocalhashError(EMPTY_FILE, "the file is empty"))
    reason = str(message)[:200]
    if unsupported:
        error = LocalhashError(UNSUPPORTED_FORMAT, f"this HEIF uses a feature we cannot decode ({reason})")
    else:
        error = LocalhashError(CORRUPT_IMAGE, f"the HEIF photo is damaged or incomplete ({reason})")
    return failure_record(error)


def warm_up() -> None:
    """Hash two small generated pictures, a PNG as Pillow decodes it and a JPEG as the browser's
    pixels reach JpegJob, so that the person's first file does not pay for lazy imports and
    first calls."""
    gradient = np.add.outer(np.arange(96, dtype=np.uint8), np.arange(128, dtype=np.uint8))
    picture = Image.fromarray(np.stack([gradient, gradient[::-1], gradient[:, ::-1]], axis=-1))
    png, jpeg = io.BytesIO(), io.BytesIO()
    picture.save(png, "PNG")
    picture.save(jpeg, "JPEG", quality=90)
    hash_bytes(png.getvalue(), dihedral=True)
    job = JpegJob(jpeg.getvalue())
    job.buffer(picture.width, picture.height)[...] = np.asarray(picture.convert("RGBA"))
    job.record()


class VideoHasher:
    """MD5 + SHA-256 of a video fed chunk by chunk (the worker reads it with File.slice)."""

    def __init__(self, container: str) -> None:
        self.container = container
        self.stream = HashStream()

    def update(self, chunk) -> int:
        self.stream.update(_as_bytes(chunk))
        return self.stream.size

    def record(self) -> dict:
        return video_record(self.container, self.stream.hexdigests())
