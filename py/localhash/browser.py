"""The browser's entry into localhash, called by web/worker.js through Pyodide.

Bytes in, record out: the same record `python -m localhash hash` prints (without "file").
JavaScript typed arrays arrive as Pyodide JsProxy objects; `_as_bytes` copies them into Python.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from .decode import (
    VIDEO_SNIFF_BYTES,
    WHOLE_DECODE_MAX_PIXELS,
    DecodedImage,
    apply_orientation,
    check_size,
    open_image,
    picture_container,
    video_format,
)
from .digests import HashStream, digest_bytes
from .errors import CORRUPT_IMAGE, CORRUPT_VIDEO, EMPTY_FILE, UNSUPPORTED_FORMAT, LocalhashError
from .frame_rate import fragmented_mov_frame_rate, matroska_frame_rate  # noqa: F401  (the worker's entry)
from .isobmff import read_picture_boxes
from .pdq import STRIP_PIXELS, strip_rows
from .pixelcheck import PixelCheck, block_means
from .record import (
    MODES,
    PreparedImage,
    decoded_elsewhere_record,
    failure_record,
    finish_image,
    hash_bytes,
    prepare_image,
    strip_sweep,
    strips_record,
    video_record,
)
from .strips import StripHashes
from .video_browser import mov_frame_rate, video_frames, vpdq_unavailable  # noqa: F401  (the worker's entry)


def _as_bytes(data) -> bytes:
    return data.to_bytes() if hasattr(data, "to_bytes") else bytes(data)


def sniff_video(head) -> str | None:
    """The video container named by a file's first bytes, or None for anything else."""
    return video_format(_as_bytes(head)[:VIDEO_SNIFF_BYTES])


def decoder_for(data) -> str:
    """Who decodes this file's pixels: "browser" for a colour or greyscale JPEG (the page's decoder,
    checked: JpegJob), "libheif" for a HEIF (libheif in wasm, which the worker loads only then: HeifJob),
    "avif" for an AVIF (the page's decoder, checked against libavif in wasm: AvifJob), else "pillow".
    CMYK JPEGs stay with Pillow: browsers convert CMYK with colour management, pdqhash's
    `convert("RGB")` does not."""
    data = _as_bytes(data)
    container = picture_container(data)
    if container == "HEIF":
        return "libheif"
    if container == "AVIF":
        return "avif"
    try:
        with open_image(data) as image:  # the header only; up to the largest picture hashed
            return "browser" if image.format in ("JPEG", "MPO") and image.mode in ("RGB", "L") else "pillow"
    except Exception:
        return "pillow"  # whatever is wrong, Pillow's decoder reports it as a typed error


def hash_image(data, dihedral: bool = False, mode: str = "full", variants: bool = False) -> dict:
    """Every hash of one image file's bytes, Pillow decoding (whole: WHOLE_DECODE_MAX_PIXELS at most);
    failures come back as typed error records. `variants`: also the PDQ of the picture as apps re-frame it."""
    return hash_bytes(
        _as_bytes(data),
        dihedral=bool(dihedral),
        mode=str(mode),
        max_pixels=WHOLE_DECODE_MAX_PIXELS,
        variants=bool(variants),
    )


class _SuppliedPixels:
    """What JpegJob and AvifJob share: a prepared picture (record.PreparedImage) whose RGBA pixels the page's
    decoder supplies, copied in strips by the worker (jpeg.js copyPixels) and checked before they are hashed.

    `begin(width, height)` says whether the decoded picture has the file's size. Then, while `next_strip()`
    gives a first row (>= 0), the worker fills `strip`, a (rows, cols, 4) array, with the picture's rows from
    that one on, so that a 200 MP photo never sits whole in wasm memory (strips.py). `record()` then gives
    the record: the pixels' hashes when they passed the check, else the fallback decode's
    (record.strips_record). Constructing a job runs its `_open` (what it learns from the file's bytes alone);
    `error` is then the typed error record of a file that cannot be hashed, or None.
    """

    def __init__(
        self,
        data,
        dihedral: bool = False,
        mode: str = "full",
        variants: bool = False,
        strip_pixels: int = STRIP_PIXELS,
    ) -> None:
        self.data = _as_bytes(data)
        self.dihedral, self.mode, self.variants = bool(dihedral), str(mode), bool(variants)
        self.strip_pixels = int(strip_pixels)
        self.prepared = None
        self.error: dict | None = None
        self.strip: np.ndarray | None = None
        self._sweep = None
        self._buffer: np.ndarray | None = None
        self._found = None
        try:
            self._open()
        except Exception as exc:
            self.error = failure_record(exc)

    def _open(self) -> None:
        raise NotImplementedError

    def begin(self, width: int, height: int) -> bool:
        """False when the decoded picture is not the file's size (a browser that turned it after all)."""
        decoded = self.prepared.decoded
        if (int(width), int(height)) != (decoded.width, decoded.height):
            return False
        if self.mode == "reference-cli":  # Meta's CLI samples the whole picture: one strip holds it all
            self._sweep = _whole(decoded.height)
            self._buffer = np.empty((decoded.height, decoded.width, 4), np.uint8)
        else:
            self._sweep = strip_sweep(self.prepared, self.strip_pixels)
            rows = min(decoded.height, strip_rows(decoded.width, self.strip_pixels))
            self._buffer = np.empty((rows, decoded.width, 4), np.uint8)  # refilled for every strip
        return True

    def next_strip(self) -> int:
        """The first row of the next strip to copy into `strip`, or -1 when the sweep needs no more."""
        if self._found is not None:
            return -1
        try:
            top, height = next(self._sweep) if self.strip is None else self._sweep.send(self.strip)
        except StopIteration as done:
            self._found, self.strip, self._buffer = done.value, None, None
            return -1
        self.strip = self._buffer[:height]
        return top

    def record(self) -> dict:
        try:
            if self.mode == "reference-cli":
                return finish_image(self.prepared, self._found)
            return strips_record(self.prepared, self._found, WHOLE_DECODE_MAX_PIXELS)
        except Exception as exc:
            return failure_record(exc)


class JpegJob(_SuppliedPixels):
    """A JPEG whose pixels the page decodes (see decoder_for), in steps so that they overlap.

    Constructing it checks the file with Pillow (a 1/8-scale decode, the reference the pixels are checked
    against) and takes its digests while the page's decoder works; `error` is then the typed error record,
    or None. Then the steps of _SuppliedPixels; when the pixels fail the check, Pillow's decode is hashed.
    `record_without_pixels` is for when the browser gave none. The steps together equal
    `record.image_record(data, decoded_rgba=...)`.
    """

    def _open(self) -> None:
        # reference-cli mode holds the whole picture (Meta's CLI samples all of it), not strips
        whole = self.mode == "reference-cli"
        self.prepared = prepare_image(
            self.data,
            dihedral=self.dihedral,
            mode=self.mode,
            pixels_from_elsewhere=True,
            variants=self.variants,
            **({"max_pixels": WHOLE_DECODE_MAX_PIXELS} if whole else {}),
        )

    def record_without_pixels(self, code: str, message: str) -> dict:
        """Pillow's record of the file, saying why the browser's pixels were not used."""
        record = hash_image(self.data, self.dihedral, self.mode, self.variants)
        if record["ok"]:
            check = {"passed": False, "code": str(code), "message": str(message)}
            record.update(decoded_by="pillow", pixel_check=check)
        return record


class AvifJob(_SuppliedPixels):
    """An AVIF, which Pyodide's Pillow cannot decode: the browser's own decoder (Chromium's libavif, Firefox's
    dav1d, Safari's ImageIO) gives the pixels hashed, checked like a JPEG's against a decode by libavif with
    aom compiled to wasm (npm @jsquash/avif), which the worker loads only when an AVIF is chosen.

    Constructing it reads the file's boxes (isobmff.py: size, rotation and mirror, frames) and takes its
    digests; `error` is then the typed error record (damaged boxes, a size that cannot be decoded whole),
    or None. `reference(width, height)` gives the array for libavif's RGBA, as stored (None when libavif
    decoded another size than the boxes say); `reference_done()` turns it as people see it and makes the
    check's 1/8-scale reference of it. Then the steps of _SuppliedPixels; when the browser's pixels fail the
    check, or there are none (`record_without_pixels`), libavif's are hashed and the record says so.
    """

    boxes = None
    _reference: np.ndarray | None = None

    def _open(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if not self.data:
            raise LocalhashError(EMPTY_FILE, "the file is empty")
        self.boxes = read_picture_boxes(self.data)
        check_size(*self.boxes.shown_size, WHOLE_DECODE_MAX_PIXELS)  # libavif decodes it whole
        self._digests = digest_bytes(self.data)

    def reference(self, width: int, height: int) -> np.ndarray | None:
        if (int(width), int(height)) != (self.boxes.width, self.boxes.height):
            return None
        self._reference = np.empty((self.boxes.height, self.boxes.width, 4), np.uint8)
        return self._reference

    def reference_done(self) -> None:
        shown = apply_orientation(self._reference, self.boxes.orientation)
        self.prepared = PreparedImage(
            self.data,
            self._decoded(block_means(shown)),
            self._digests,
            self.dihedral,
            self.mode,
            WHOLE_DECODE_MAX_PIXELS,
            pixels_from_elsewhere=True,
            fallback=self._reference_decoded,
            fallback_decoder="libavif",
            variants=self.variants,
        )

    def _decoded(self, image: Image.Image) -> DecodedImage:
        width, height = self.boxes.shown_size
        return DecodedImage(image, "AVIF", width, height, self.boxes.frames, 1)

    def _reference_decoded(self) -> DecodedImage:
        width, height = self.boxes.shown_size
        shown = np.ascontiguousarray(apply_orientation(self._reference, self.boxes.orientation))
        return self._decoded(Image.frombuffer("RGBA", (width, height), shown, "raw", "RGBA", 0, 1))

    def record_without_pixels(self, code: str, message: str) -> dict:
        """libavif's record of the file, saying why the browser's pixels were not used."""
        check = PixelCheck(False, -1.0, -1.0, str(code), str(message))
        try:
            return strips_record(self.prepared, StripHashes(check))
        except Exception as exc:
            return failure_record(exc)


def avif_not_decoded(data, message: str) -> dict:
    """The record of an AVIF libavif could not decode (its wasm build gives no reason): corrupt_image."""
    if len(_as_bytes(data)) == 0:
        return failure_record(LocalhashError(EMPTY_FILE, "the file is empty"))
    reason = str(message)[:200]
    return failure_record(LocalhashError(CORRUPT_IMAGE, f"the AVIF picture is damaged or incomplete ({reason})"))


def _whole(rows: int):
    """A sweep of one strip, the whole picture, which it returns."""
    return (yield 0, rows)


class HeifJob:
    """A HEIF photo, decoded by libheif compiled to wasm (npm libheif-js: the same libheif as the native
    extra pillow-heif), which the worker runs; Pyodide's Pillow has no HEIF decoder.

    The worker reads the file's primary image's size and the number of images from libheif; `error`
    is then the typed error record for a size that cannot be hashed, or None. `buffer()` gives the array
    libheif's RGBA pixels (already turned as HEIF's rotation and mirror say) are copied into, and
    `record()` hashes them: the native record, up to what the two libde265 builds decode differently
    (README: measured on the corpus).
    """

    def __init__(
        self,
        data,
        width: int,
        height: int,
        images: int,
        dihedral: bool = False,
        mode: str = "full",
        variants: bool = False,
    ):
        self.data = _as_bytes(data)
        self.width, self.height, self.images = int(width), int(height), int(images)
        self.dihedral, self.mode, self.variants = bool(dihedral), str(mode), bool(variants)
        self.pixels: np.ndarray | None = None
        self.error: dict | None = None
        try:
            check_size(self.width, self.height, WHOLE_DECODE_MAX_PIXELS)  # decoded whole, by libheif
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
                variants=self.variants,
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
    job = JpegJob(jpeg.getvalue(), strip_pixels=picture.width * 32)  # three strips, as a big photo has
    job.begin(picture.width, picture.height)
    rgba = np.asarray(picture.convert("RGBA"))
    while (top := job.next_strip()) >= 0:
        job.strip[...] = rgba[top : top + len(job.strip)]
    job.record()


class VideoHasher:
    """MD5 + SHA-256 of a video fed chunk by chunk (the worker reads it with File.slice)."""

    def __init__(self, container: str) -> None:
        self.container = container
        self.stream = HashStream()

    def update(self, chunk) -> int:
        self.stream.update(_as_bytes(chunk))
        return self.stream.size

    def record(self, frames=None) -> dict:
        """The video's record. `frames`: its video_browser.VideoFrames (the vPDQ, or why there is none, or the
        failure of the whole video, as natively), or the fields of vpdq_unavailable, or None (no vPDQ tried)."""
        if frames is None:
            return video_record(self.container, self.stream.hexdigests())
        if isinstance(frames, dict) or hasattr(frames, "to_py"):
            fields = frames.to_py() if hasattr(frames, "to_py") else frames
        elif frames.failure is not None:
            return frames.failure
        else:
            fields = frames.fields()
        return {**video_record(self.container, self.stream.hexdigests()), **fields}


def video_corrupt(message: str) -> dict:
    """The record of a video whose container cannot be read (no video track, damaged boxes): corrupt_video, as
    the CLI reports a video PyAV cannot open."""
    return failure_record(LocalhashError(CORRUPT_VIDEO, f"the video cannot be read ({str(message)[:200]})"))
