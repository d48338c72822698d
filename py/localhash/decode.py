"""Bytes to a decoded image, with guards: every failure is a typed error, never a traceback or a hang."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import (  # noqa: F401  importing a plugin registers it; `formats=` needs them registered
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,
)

from .errors import CORRUPT_IMAGE, EMPTY_FILE, TOO_LARGE, TOO_SMALL, UNSUPPORTED_FORMAT, LocalhashError
from .pdq import MIN_HASHABLE_DIM

try:  # HEIF (every iPhone's photos) through libheif, the optional extra: pip install "localhash[heif]"
    import pillow_heif
except ImportError:  # in the browser too: there the page's worker decodes HEIF with libheif in wasm
    pillow_heif = None
else:
    pillow_heif.register_heif_opener()
try:  # AVIF (Android's newer photos) through libavif, the optional extra: pip install "localhash[avif]"
    import pillow_avif  # noqa: F401  importing it registers "AVIF"; libavif 1.4 with dav1d, libyuv's chroma upsampling
except ImportError:  # in the browser too: there the browser's own decoder is hashed, checked against libavif in wasm
    pillow_avif = None

# Pillow format names we open. Restricting `Image.open` to these keeps Pillow's many other
# parsers (and their attack surface) out of reach. The JPEG opener also returns the
# multi-picture JPEGs many phone cameras write, which Pillow then names MPO.
ALLOWED_FORMATS = (
    ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP")
    + (("HEIF",) if pillow_heif else ())
    + (("AVIF",) if pillow_avif else ())
)
_CONTAINER_FORMATS = ("HEIF", "AVIF")
# The largest picture hashed: 2^28 px (268 MP), the largest canvas area Chromium and desktop Safari allow
# (16384x16384; iOS Safari allows 4096x4096, which a strip of about 4 million pixels stays under), above the
# 200 MP of Samsung's Galaxy Ultra phones (16320x12240). The browser hashes a JPEG that size in strips
# (strips.py) within the README's measured wasm heap (569 MiB at 268 MP in Chromium). A header claiming more
# is refused before any pixel is allocated, which is also the guard against decompression bombs.
DEFAULT_MAX_PIXELS = 1 << 28
# Where a whole picture is decoded into wasm memory at once (Pillow in the browser: PNG, WebP, CMYK JPEG, a
# browser decode that failed its check; libheif): Pillow keeps 4 bytes a pixel, and a phone's tab cannot
# count on more than about 1 GiB of wasm memory (README: measured).
WHOLE_DECODE_MAX_PIXELS = 100_000_000
EXIF_ORIENTATION_TAG = 0x0112

# ISO-BMFF brands (the `ftyp` box: major brand, then compatible brands) of still pictures. HEIF
# pictures are HEVC-coded (iPhones since 2017, many Android cameras); AVIF is HEIF with AV1 inside.
# The major brand decides, as pillow-heif decides (its `_is_supported_heif`), so that the CLI and the
# site call the same files HEIF. Image sequences (msf1, hevc, hevs) are not pictures: unsupported.
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"mif1", b"mif2"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


def picture_container(data: bytes) -> str | None:
    """ "HEIF" or "AVIF" when the file's `ftyp` box names such a picture, else None. AVIF wins: its
    files may carry a generic HEIF major brand (mif1) and name AV1 among the compatible ones."""
    if data[4:8] != b"ftyp":
        return None
    size = int.from_bytes(data[:4], "big")
    compatible = {data[i : i + 4] for i in range(16, min(size, len(data), 256) - 3, 4)}
    if ({data[8:12]} | compatible) & _AVIF_BRANDS:
        return "AVIF"
    if data[8:12] in _HEIF_BRANDS:
        return "HEIF"
    return None


# Friendlier messages for files people actually try; the code stays unsupported_format.
_KNOWN_SIGNATURES = (
    (0, (b"%PDF",), "this is a PDF document, not a picture"),
    (4, (b"ftyp",), "this is a video, audio or HEIF file that is not a picture we can read"),
)
_CONTAINER_MESSAGES = {
    "HEIF": 'HEIC/HEIF photos need the optional HEIF decoder here (pip install "localhash[heif]"); '
    "the website decodes them itself",
    "AVIF": 'AVIF images need the optional AVIF decoder here (pip install "localhash[avif]"); '
    "the website decodes them itself",
}


# Videos get their exact hashes (MD5, SHA-256) only: platforms match videos by MD5 (StopNCII's
# "VideoMD5") until vPDQ arrives. ISO-BMFF brands after the `ftyp` box type at offset 4.
_MP4_BRANDS = {
    b"isom": "MP4",
    b"iso2": "MP4",
    b"iso4": "MP4",
    b"iso5": "MP4",
    b"iso6": "MP4",
    b"mp41": "MP4",
    b"mp42": "MP4",
    b"avc1": "MP4",
    b"dash": "MP4",
    b"M4V ": "MP4",
    b"M4VP": "MP4",
    b"MSNV": "MP4",
    b"qt  ": "MOV",
    b"3gp4": "3GP",
    b"3gp5": "3GP",
    b"3gp6": "3GP",
    b"3g2a": "3GP",
}
VIDEO_SNIFF_BYTES = 16


def video_format(head: bytes) -> str | None:
    """The container name when the first bytes are a video's (MP4/MOV/3GP, WebM/Matroska, AVI)."""
    if head[4:8] == b"ftyp" and head[8:12] in _MP4_BRANDS:
        return _MP4_BRANDS[head[8:12]]
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "WEBM"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "AVI"
    return None


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # the first frame, loaded, in the file's own mode
    format: str
    width: int
    height: int
    frames: int
    orientation: int  # EXIF orientation 1-8; 1 when absent or unreadable


def _unsupported_message(data: bytes) -> str:
    container = picture_container(data)
    if container:
        return _CONTAINER_MESSAGES[container]
    for offset, signatures, message in _KNOWN_SIGNATURES:
        if any(data[offset : offset + len(s)] == s for s in signatures):
            return message
    supported = (
        "JPEG, PNG, WebP, GIF, TIFF, BMP" + (", HEIC/HEIF" if pillow_heif else "") + (", AVIF" if pillow_avif else "")
    )
    return f"this file is not a picture we can read (supported: {supported})"


def _signature_matches(data: bytes) -> bool:
    """True when an allowed format's own signature check accepts the first bytes."""
    return any(Image.OPEN[fmt][1] is None or Image.OPEN[fmt][1](data[:16]) for fmt in ALLOWED_FORMATS)


def open_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Pillow's lazy open of an allowed format (header only), every refusal a LocalhashError."""
    # Pillow refuses more than twice its global MAX_IMAGE_PIXELS before our own limit is asked.
    # A caller who allows more raises it for the duration of the call (our limit still applies,
    # from the header, before any pixel is allocated).
    previous = Image.MAX_IMAGE_PIXELS
    raise_limit = previous is not None and max_pixels > previous
    try:
        if raise_limit:
            Image.MAX_IMAGE_PIXELS = max_pixels
        # pillow-heif and pillow-avif open only what picture_container calls HEIF and AVIF (the site decides
        # the same way); both plugins also claim files of the other's generic brands (mif1).
        container = picture_container(data)
        formats = (container,) if container else tuple(f for f in ALLOWED_FORMATS if f not in _CONTAINER_FORMATS)
        formats = tuple(f for f in formats if f in ALLOWED_FORMATS)
        with warnings.catch_warnings():
            # Our own pixel limit applies below; Pillow's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=formats)
    except UnidentifiedImageError:
        if _signature_matches(data):  # a JPEG/PNG/... whose header is cut short or garbled
            raise LocalhashError(CORRUPT_IMAGE, "the picture's header is damaged or incomplete") from None
        raise LocalhashError(UNSUPPORTED_FORMAT, _unsupported_message(data)) from None
    except Image.DecompressionBombError as exc:
        raise LocalhashError(TOO_LARGE, f"the picture is too large to hash safely ({exc})") from None
    except ImportError:
        raise  # a module missing from this copy of localhash is not the file's fault (record.failure_record)
    except Exception as exc:  # a header Pillow recognised but could not parse
        raise LocalhashError(CORRUPT_IMAGE, f"the picture's header is damaged ({type(exc).__name__})") from None
    finally:
        if raise_limit:
            Image.MAX_IMAGE_PIXELS = previous


def _orientation(image: Image.Image) -> int:
    try:
        value = int(image.getexif().get(EXIF_ORIENTATION_TAG, 1))
    except ImportError:
        raise
    except Exception:  # broken EXIF must not cost the person their hash
        return 1
    return value if 1 <= value <= 8 else 1


def check_size(width: int, height: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Refuse a size outside what can be hashed, from a header, before any pixel is allocated."""
    if width * height > max_pixels:
        raise LocalhashError(TOO_LARGE, f"the picture is {width}x{height} pixels; the limit is {max_pixels:,} pixels")
    if width < MIN_HASHABLE_DIM or height < MIN_HASHABLE_DIM:
        raise LocalhashError(
            TOO_SMALL, f"the picture is {width}x{height} pixels; at least {MIN_HASHABLE_DIM} on each side are needed"
        )


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, check_only: bool = False) -> DecodedImage:
    """Decode the first frame of `data`, refusing oversized headers before any pixel is allocated.

    `check_only` is for a JPEG whose pixels come from another decoder (the browser's): libjpeg
    then decodes at 1/8 scale, which is fast and still meets every truncation or damage, so the
    file gets the same typed error it would get here, and gives the reference those pixels are
    checked against (pixelcheck.py); width and height stay the full size.
    """
    if len(data) == 0:
        raise LocalhashError(EMPTY_FILE, "the file is empty")
    image = open_image(data, max_pixels)
    width, height = image.size
    check_size(width, height, max_pixels)
    full_size = image.size
    try:
        # A HEIF holds images side by side (a burst, a Live Photo's still), not frames in time: Pillow
        # opens its primary image, the one viewers show, and n_frames counts them all.
        frames = int(getattr(image, "n_frames", 1))
        if frames > 1 and image.format != "HEIF":
            image.seek(0)
        if check_only and image.format in ("JPEG", "MPO"):
            # Exactly 1/8 (Pillow picks the largest scale with width // asked >= scale): pixelcheck.py
            # compares each 8x8 block of the browser's pixels with this decode's pixel for it.
            image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
        image.load()
    except MemoryError:
        raise LocalhashError(TOO_LARGE, "the picture needs more memory than this device has") from None
    except ImportError:
        raise
    except Exception as exc:  # truncated data, bad compressed stream, garbage after the header
        raise LocalhashError(
            CORRUPT_IMAGE, f"the picture's data is damaged or incomplete ({type(exc).__name__})"
        ) from None
    fmt = "JPEG" if image.format == "MPO" else image.format
    # Pillow's TIFF loader applies the orientation tag itself while loading (and drops the tag),
    # so size and orientation are read from the loaded image: they describe the hashed pixels.
    width, height = full_size if check_only else image.size
    # libheif turns a HEIF as its rotation and mirror properties say (HEIF readers must; an EXIF
    # orientation inside a HEIF is informative only), so its pixels are already as people see them.
    # libavif leaves an AVIF's pixels as stored and pillow-avif reports its rotation and mirror as the
    # EXIF orientation (an EXIF block's own is overridden): turned here, as browsers turn them.
    orientation = 1 if fmt in _CONTAINER_FORMATS else _orientation(image)
    if fmt == "AVIF":
        image = turned(image, _orientation(image))
        width, height = image.size
    if fmt in _CONTAINER_FORMATS and image.mode not in ("RGB", "RGBA"):
        # The site hashes RGBA of every HEIF and AVIF (libheif's, the browser's), a monochrome one too: so
        # does the CLI, also in reference-cli mode (whose greyscale rule is about files Meta's tool reads; it
        # reads neither).
        image = image.convert("RGB")
    return DecodedImage(image, fmt, width, height, frames, orientation)


def to_rgb_array(image: Image.Image) -> np.ndarray:
    """`convert("RGB")` pixels, what pdqhash is given. Alpha is dropped, not composited: a
    transparent pixel hashes as whatever colour it stores, exactly as the reference."""
    try:
        return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    except Exception as exc:  # ImportError too: Pyodide's Pillow has no colour management (LAB needs it)
        raise LocalhashError(
            UNSUPPORTED_FORMAT, f"pictures in colour mode {image.mode} are not supported ({exc})"
        ) from None


_TRANSPOSES = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def turned(image: Image.Image, orientation: int) -> Image.Image:
    """The picture as a viewer shows it; same as `ImageOps.exif_transpose` (and apply_orientation)."""
    return image.transpose(_TRANSPOSES[orientation]) if orientation != 1 else image


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """The stored pixels as a viewer shows them, as views (no copy); same as `ImageOps.exif_transpose`."""
    swap = (1, 0, 2) if pixels.ndim == 3 else (1, 0)
    transforms = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(swap),
        6: lambda a: a[::-1].transpose(swap),
        7: lambda a: a[::-1, ::-1].transpose(swap),
        8: lambda a: a[:, ::-1].transpose(swap),
    }
    return transforms[orientation](pixels)
