"""A picture decoded elsewhere (the browser's JPEG or AVIF decoder), whose RGBA pixels arrive as strips of rows:
checked and hashed without the picture ever being held whole, so that a 200 MP photo fits a phone's tab.

`hash_strips` is a generator: it yields the rows it wants next, (top, height), and is sent those rows of
the picture, (height, cols, 4) uint8, which may be the same buffer refilled each time. The browser's worker
copies each strip out of the decoded bitmap (web/worker.js); natively, `hash_array` sends views of an array.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .pdq import STRIP_PIXELS, PdqResult, PdqSweeps, strip_rows
from .pixelcheck import PixelCheck, SampledRows, check_pixels
from .variants import WorkingCopy

StripRequest = tuple[int, int]  # (top, height)


@dataclass(frozen=True)
class StripHashes:
    """What one sweep found: the pixel check's verdict and, when the pixels passed it, the hashes."""

    check: PixelCheck
    pdq: PdqResult | None = None
    pdq_oriented: str | None = None  # PDQ of the picture as the EXIF orientation turns it (not 1)
    grey: Image.Image | None = None  # convert("L") of the whole picture, for pHash, dHash and aHash
    work: np.ndarray | None = None  # the working copy for variants (variants.py), turned; when asked for


def _grey(strip: np.ndarray) -> np.ndarray:
    """Pillow's RGBA -> L conversion of a strip (per pixel, so strip by strip equals the whole)."""
    rows, cols = strip.shape[:2]
    return np.asarray(Image.frombuffer("RGBA", (cols, rows), strip, "raw", "RGBA", 0, 1).convert("L"))


def hash_strips(
    rows: int,
    cols: int,
    orientation: int,
    reference: Image.Image,
    dihedral: bool = False,
    strip_pixels: int = STRIP_PIXELS,
    variants: bool = False,
) -> Generator[StripRequest, np.ndarray, StripHashes]:
    """Check and hash a (rows, cols) picture sent strip by strip, from the top. `reference` is the 1/8-scale
    picture the pixels are checked against (pixelcheck.py): libjpeg's of a JPEG, libavif's block means of an
    AVIF.

    A second sweep, from the bottom, follows for an orientation that turns the picture upside down or
    rotates it (3, 4, 6, 7: PDQ's passes then start at the bottom), unless one strip held it all.
    """
    height = strip_rows(cols, strip_pixels)
    tops = range(0, rows, height)
    pdq = PdqSweeps(rows, cols, orientation)
    sampled = SampledRows((rows, cols, 4))
    copy = WorkingCopy(rows, cols) if variants else None
    grey = np.empty((rows, cols), np.uint8)
    whole = None
    for top in tops:
        strip = yield top, min(height, rows - top)
        if strip.shape != (min(height, rows - top), cols, 4):
            raise ValueError(f"strip at row {top} has shape {strip.shape}")
        pdq.feed(strip[:, :, :3])
        grey[top : top + len(strip)] = _grey(strip)
        sampled.take(top, strip)
        if copy is not None:
            copy.feed(strip)
        whole = strip if len(tops) == 1 else None
    check = check_pixels(sampled, reference)
    if not check.passed:
        return StripHashes(check)
    if pdq.second_sweep:
        for top in reversed(tops):
            strip = whole if whole is not None else (yield top, min(height, rows - top))
            pdq.feed_second(strip[:, :, :3])
    grey_image = Image.frombuffer("L", (cols, rows), grey, "raw", "L", 0, 1)
    work = copy.picture(orientation) if copy is not None else None
    return StripHashes(check, *pdq.result(dihedral), grey_image, work)


def hash_array(rgba: np.ndarray, sweep: Generator[StripRequest, np.ndarray, StripHashes]) -> StripHashes:
    """Run a sweep on a (rows, cols, 4) array in memory: each request is answered with a view."""
    try:
        top, height = next(sweep)
        while True:
            top, height = sweep.send(rgba[top : top + height])
    except StopIteration as done:
        return done.value
