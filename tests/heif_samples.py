"""HEIC test files made from the corpus, the same way for the core and the browser tests.

How: corpus pictures are decoded by Pillow and encoded by pillow-heif 0.22.0 (libheif 1.19.7 with x265
3.5) at quality 50 (strongly compressed, where decoders differ most) and 90 (what phones write): in
colour, with an alpha channel (an RGBA drawing) and monochrome (a greyscale picture); one more as 10 bits
per sample (iPhone HDR photos), one with three images whose primary is the second (a burst), and one
turned by an EXIF orientation 6, which pillow-heif writes as HEIF's own rotation property. Not made
here: a grid of tiles (how iPhones store 12 MP photos; pillow-heif cannot write one) and an EXIF
orientation without a rotation property. Nothing is committed: the files are made per run.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import PDQ_IMAGES

# (corpus picture, mode it is encoded in): a photo; a drawing with transparency; the corpus photo whose
# HEIC decodes differ most between native libheif and libheif in wasm (16 PDQ bits at quality 50, see
# README); a greyscale picture, encoded monochrome.
SOURCES = (
    ("bridge-mods/blur-a-little.jpg", "RGB"),
    ("misc-images/modes/RGBA.png", "RGBA"),
    ("reg-test-input/labelme-subset/q0003.jpg", "RGB"),
    ("pytx-resources/LA.png", "L"),
)
STRONG, PHONE = 50, 90  # the two qualities


@dataclass(frozen=True)
class HeifSample:
    path: Path
    source: str
    quality: int = PHONE
    primary: int = 0  # which of the file's images Pillow and the site hash
    images: int = 1


def _picture(name: str, mode: str = "RGB") -> Image.Image:
    return Image.open(PDQ_IMAGES / name).convert(mode)


def make_heif_samples(folder: Path) -> list[HeifSample]:
    import pillow_heif

    pillow_heif.register_heif_opener()
    folder.mkdir(parents=True, exist_ok=True)
    samples = []
    for index, (name, mode) in enumerate(SOURCES):
        picture = _picture(name, mode)
        for quality in (STRONG, PHONE):
            path = folder / f"{index}-{mode}-q{quality}.heic"
            picture.save(path, "HEIF", quality=quality)
            samples.append(HeifSample(path, name, quality))
    name = SOURCES[0][0]
    picture = _picture(name)
    path = folder / "10-bit.heic"
    wide = (np.asarray(picture).astype(np.uint16) << 8).tobytes()
    pillow_heif.from_bytes(mode="RGB;16", size=picture.size, data=wide).save(path, quality=PHONE)
    samples.append(HeifSample(path, name))
    path = folder / "burst.heic"
    others = [picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT), picture.rotate(180)]
    picture.save(path, "HEIF", save_all=True, append_images=others, primary_index=1, quality=PHONE)
    samples.append(HeifSample(path, name, primary=1, images=3))
    path = folder / "rotated.heic"
    exif = Image.Exif()
    exif[0x0112] = 6
    picture.save(path, "HEIF", exif=exif.tobytes(), quality=PHONE)
    samples.append(HeifSample(path, name))
    return samples


def heif_bytes(picture: Image.Image, **options) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    picture.save(buffer, "HEIF", **options)
    return buffer.getvalue()


# How far the browser's HEIF record may be from the native one, per field, in bits: the largest
# differences measured between libheif 1.19.7 natively (pillow-heif 0.22.0, x86) and libheif 1.19.8 in
# wasm (libheif-js) on 104 HEICs made from the 46 corpus pictures (46 at quality 50, 46 at 90, 12 at 10
# bits). Both use libde265 1.0.15; its x86 SIMD paths and its portable C (the wasm build) decode some
# blocks a few levels apart: at quality 50 up to 16 levels on up to half the pixels, moving PDQ by up to
# 16 bits (PDQ matches at 31); at quality 90 and at 10 bits at most 3 levels, PDQ always equal.
TOLERANCE_BITS = {
    STRONG: {"pdq": 16, "phash": 2, "dhash": 5, "ahash": 4},
    PHONE: {"pdq": 0, "phash": 0, "dhash": 1, "ahash": 1},
}


def bits_apart(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def heif_differences(browser: dict, native: dict, quality: int = PHONE) -> dict:
    """What differs between a browser's and the native record of a HEIF made at `quality` beyond
    TOLERANCE_BITS, and whether the browser said libheif decoded it; {} when they agree."""
    tolerance = TOLERANCE_BITS[quality]
    browser = dict(browser)
    problems = {}
    if browser.pop("decoded_by", None) != "libheif":
        problems["decoded_by"] = "not libheif"
    for key in sorted(set(browser) | set(native)):
        mine, theirs = browser.get(key), native.get(key)
        if mine == theirs:
            continue
        field = "pdq" if key.startswith("pdq") and key != "pdq_quality" else key
        if key == "pdq_dihedral" and mine and theirs and mine.keys() == theirs.keys():
            apart = max(bits_apart(mine[k], theirs[k]) for k in mine)
        elif field in tolerance and isinstance(mine, str) and isinstance(theirs, str):
            apart = bits_apart(mine, theirs)
        else:
            problems[key] = (mine, theirs)
            continue
        if apart > tolerance[field]:
            problems[key] = f"{apart} bits apart"
    return problems
