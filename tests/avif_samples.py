"""AVIF test files made from the corpus, the same way for the core and the browser tests.

How: corpus pictures are decoded by Pillow and encoded by pillow-avif-plugin 1.6.0 (libavif 1.4.2 with aom
3.14) at quality 50 (strongly compressed) and 90, 8 bits per sample with 4:2:0 chroma, as phones write
them: in colour, with an alpha channel (an RGBA drawing) and monochrome (a greyscale picture, which
libavif writes as 4:0:0); one more with 4:4:4 chroma, four turned by EXIF orientations 6, 5, 3 and 2 (which
the plugin writes as AVIF's own rotation and mirror properties: a quarter turn, a turn and a mirror, half a
turn, a mirror), and an image sequence of three frames (animated AVIF: its first frame is hashed). Not made
here: a grid of tiles and 10-bit AVIFs (the plugin writes neither). Nothing is committed: the files are made
per run.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from tests.conftest import PDQ_IMAGES
from tests.heif_samples import PHONE, SOURCES, STRONG


@dataclass(frozen=True)
class AvifSample:
    path: Path
    source: str
    quality: int = PHONE
    frames: int = 1
    orientation: int = 1  # as the rotation and mirror properties say


def _picture(name: str, mode: str = "RGB") -> Image.Image:
    return Image.open(PDQ_IMAGES / name).convert(mode)


def avif_bytes(picture: Image.Image, **options) -> bytes:
    import pillow_avif  # noqa: F401  registers "AVIF"

    buffer = io.BytesIO()
    picture.save(buffer, "AVIF", **options)
    return buffer.getvalue()


def make_avif_samples(folder: Path) -> list[AvifSample]:
    folder.mkdir(parents=True, exist_ok=True)
    samples = []

    def add(name: str, source: str, data: bytes, **facts) -> None:
        path = folder / name
        path.write_bytes(data)
        samples.append(AvifSample(path, source, **facts))

    for index, (name, mode) in enumerate(SOURCES):
        picture = _picture(name, mode)
        for quality in (STRONG, PHONE):
            add(f"{index}-{mode}-q{quality}.avif", name, avif_bytes(picture, quality=quality), quality=quality)
    name = SOURCES[0][0]
    picture = _picture(name)
    add("444.avif", name, avif_bytes(picture, quality=PHONE, subsampling="4:4:4"))
    for orientation in (6, 5, 3, 2):
        exif = Image.Exif()
        exif[0x0112] = orientation
        data = avif_bytes(picture, quality=PHONE, exif=exif.tobytes())
        add(f"orientation-{orientation}.avif", name, data, orientation=orientation)
    others = [picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT), picture.rotate(180)]
    add("animated.avif", name, avif_bytes(picture, quality=PHONE, save_all=True, append_images=others), frames=3)
    return samples


# How far an AVIF's record in the browser may be from the native one, in bits, measured on 102 AVIFs made from
# the 51 corpus pictures (quality 50 and 90) in the browsers here (2026-12-01):
# - Chromium and WebKitGTK decode with libavif and libyuv's bilinear chroma upsampling, as the plugin does:
#   the same bytes, every hash equal.
# - Firefox upsamples chroma by nearest neighbour (its nsAVIFDecoder: libyuv's I420ToARGBMatrix): PDQ at most
#   4 bits apart on pictures of PDQ quality 100, 6 on the nearly flat q0003 (quality 2); pHash 2, dHash 1.
# - libavif in wasm, hashed where the browser's pixels fail the check (libavif 1.0.1 without libyuv: its own
#   bilinear upsampling and float YUV->RGB, 1-2 levels from libyuv's): PDQ at most 12 bits apart at PDQ quality
#   100 (q0122 at AVIF quality 50; 6 at 90), 18 on q0003 (quality 0, below the site's low-quality mark); pHash,
#   dHash and aHash always equal. Meta's match threshold is 31.
TOLERANCE_BITS = {
    "exact": {"pdq": 0, "phash": 0, "dhash": 0, "ahash": 0},
    "firefox": {"pdq": 6, "phash": 2, "dhash": 1, "ahash": 0},
    "libavif": {"pdq": 18, "phash": 0, "dhash": 0, "ahash": 0},
}


def beyond_tolerance(apart: dict, tolerance: str) -> dict:
    """The hashes (name: bits apart) further from native than TOLERANCE_BITS[tolerance] allows."""
    return {key: bits for key, bits in apart.items() if bits > TOLERANCE_BITS[tolerance][key]}
