"""HEIC test files made from the corpus, the same way for the core and the browser tests.

How: corpus pictures are decoded by Pillow, converted to RGB and encoded by pillow-heif 0.22.0
(libheif 1.19.7 with x265 3.5) at quality 50 (strongly compressed, where decoders differ most) and
90 (what phones write), one as 10 bits per sample (iPhone HDR photos), one with three images whose
primary is the second (a burst), and one turned by an EXIF orientation 6, which pillow-heif writes as
HEIF's own rotation property. Nothing is committed: the files are made in a temporary folder per run.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import PDQ_IMAGES

# A photo, a drawing with transparency, the corpus photo whose HEIC decodes differ most between native
# libheif and libheif in wasm (16 PDQ bits at quality 50, see README), and a flat greyscale picture.
SOURCES = (
    "bridge-mods/blur-a-little.jpg",
    "misc-images/modes/RGBA.png",
    "reg-test-input/labelme-subset/q0003.jpg",
    "pytx-resources/LA.png",
)


@dataclass(frozen=True)
class HeifSample:
    path: Path
    source: str
    primary: int = 0  # which of the file's images Pillow and the site hash
    images: int = 1


def _rgb(name: str) -> Image.Image:
    return Image.open(PDQ_IMAGES / name).convert("RGB")


def make_heif_samples(folder: Path) -> list[HeifSample]:
    import pillow_heif

    pillow_heif.register_heif_opener()
    folder.mkdir(parents=True, exist_ok=True)
    samples = []
    for index, name in enumerate(SOURCES):
        picture = _rgb(name)
        for quality in (50, 90):
            path = folder / f"{index}-q{quality}.heic"
            picture.save(path, "HEIF", quality=quality)
            samples.append(HeifSample(path, name))
    picture = _rgb(SOURCES[0])
    path = folder / "10-bit.heic"
    wide = (np.asarray(picture).astype(np.uint16) << 8).tobytes()
    pillow_heif.from_bytes(mode="RGB;16", size=picture.size, data=wide).save(path, quality=80)
    samples.append(HeifSample(path, SOURCES[0]))
    path = folder / "burst.heic"
    others = [picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT), picture.rotate(180)]
    picture.save(path, "HEIF", save_all=True, append_images=others, primary_index=1, quality=80)
    samples.append(HeifSample(path, SOURCES[0], primary=1, images=3))
    path = folder / "rotated.heic"
    exif = Image.Exif()
    exif[0x0112] = 6
    picture.save(path, "HEIF", exif=exif.tobytes(), quality=80)
    samples.append(HeifSample(path, SOURCES[0]))
    return samples


def heif_bytes(picture: Image.Image, **options) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    picture.save(buffer, "HEIF", **options)
    return buffer.getvalue()


# How far the browser's HEIF record may be from the native one, per field, in bits: the largest
# differences measured between libheif 1.19.7 natively (pillow-heif 0.22.0, x86) and libheif 1.19.8 in
# wasm (libheif-js) on 104 HEICs made from the 46 corpus pictures (quality 50 and 90, 10 bits). Both use
# libde265 1.0.15; its x86 SIMD paths and its portable C (the wasm build) decode some blocks of strongly
# compressed files a few levels apart (up to 16 levels on up to half the pixels at quality 50; at most 2
# levels on 0.8 % at quality 90), which moved PDQ by 0 bits on 95 files and at most 16 (PDQ matches at 31).
HEIF_TOLERANCE_BITS = {"pdq": 16, "phash": 2, "dhash": 5, "ahash": 4}


def bits_apart(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def heif_differences(browser: dict, native: dict) -> dict:
    """What differs between a browser's and the native record of a HEIF beyond HEIF_TOLERANCE_BITS,
    and whether the browser said libheif decoded it; {} when they agree."""
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
        elif field in HEIF_TOLERANCE_BITS and isinstance(mine, str) and isinstance(theirs, str):
            apart = bits_apart(mine, theirs)
        else:
            problems[key] = (mine, theirs)
            continue
        if apart > HEIF_TOLERANCE_BITS[field]:
            problems[key] = f"{apart} bits apart"
    return problems
