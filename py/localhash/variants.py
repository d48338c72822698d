"""PDQ of a picture as apps re-frame it on their own (issue 12): fitted into a square, portrait, story or
landscape frame with bars or a blurred background, centre-cropped to one, or shown full screen on a phone.

PDQ forgives recompression, resizing and colour changes, but not a picture moved by more than about 2% of
the frame: a platform hashing a story made from the victim's photo gets a hash far from the photo's own. So
the victim may also send the PDQ of the photo already placed in each of those frames. Every variant is made
from one small working copy of the picture as people see it (turned by its orientation), never from the
full-size pixels again, so that twelve variants cost about one full-size PDQ. `WorkingCopy` is fed the
same RGB strips the full-size PDQ reads, natively and in the browser, so both make the same copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from .decode import apply_orientation
from .hashtypes import PDQ_MIN_QUALITY
from .pdq import luma_like_pdqhash, pdq_of_lumas

# The working copy's longest side, at most, and (where an integer factor down allows) at least: a box-averaged
# copy. Measured on corpus photos (tests/core/test_variants.py prints it; 2026-12-02, the 12 variants and the 7
# turned copies against the same made from the full-size picture by pdqhash): from 800-1008 px a mean 2.8-3.3
# bits, at most 8 (Meta's 1600 px bridge at 800: 3.2, at most 6; a 2000 px photo at 1000: 3.3, 8; a 12 MP phone
# photo at 1008: 3.0, 8, and at 807: 2.8, 8), as close as a photo's own PDQ at that size is to its full-size PDQ
# (mean 2.2, at most 12); from 670-720 px 4.5-7.2 (at most 12), from 500 px 4.7-9.4 (at most 20). So a copy is
# kept near 800 px where it can be: a 12 MP phone photo's (4032 px) is 806 px, not 1008, 36% fewer pixels to hash.
WORKING_SIDE = 1024
WORKING_SIDE_MIN = 800
# A frame within 2% of the picture's own shape adds bars under 1% a side: its PDQ is the picture's.
SAME_SHAPE = 0.02
# The blurred background's Gaussian radius, as a share of the frame's longest side (apps blur heavily;
# PDQ sees only the background's broad light and dark, which any strong blur keeps).
BLUR_SHARE = 0.03
BLUR_SCALE = 4


@dataclass(frozen=True)
class Frame:
    """One way apps re-frame a picture: `fit` with "bars" (black) or "blur" (the picture itself, enlarged
    and blurred), or "fill" (centre crop), into `aspect` (width, height)."""

    name: str
    how: str
    aspect: tuple[float, float]


FRAMES = (
    Frame("fit_1x1_bars", "bars", (1, 1)),
    Frame("fit_4x5_bars", "bars", (4, 5)),
    Frame("fit_9x16_bars", "bars", (9, 16)),
    Frame("fit_16x9_bars", "bars", (16, 9)),
    Frame("fit_phone_screen", "bars", (9, 19.5)),  # a full-screen phone viewer's screenshot
    Frame("fit_1x1_blur", "blur", (1, 1)),
    Frame("fit_4x5_blur", "blur", (4, 5)),
    Frame("fit_9x16_blur", "blur", (9, 16)),
    Frame("fit_16x9_blur", "blur", (16, 9)),
    Frame("fill_1x1", "fill", (1, 1)),
    Frame("fill_4x5", "fill", (4, 5)),
    Frame("fill_9x16", "fill", (9, 16)),
)
VARIANT_NAMES = tuple(frame.name for frame in FRAMES)
# Turned and mirrored copies, hashed from the really turned pixels of the working copy, under the names of
# Meta's dihedral hashes (pdq.DIHEDRAL_NAMES), which derive them from one DCT instead (pdqhash's
# compute_dihedral): {name: the EXIF orientation whose transform makes that copy (decode.apply_orientation)},
# found by hashing Meta's turned bridge photos (tests/core/test_variants.py). Derived hashes are 0-8 bits from
# the turned pixels' at 1600 px but drift to 16-108 at 256 px (issue 12); these stay as near as the copy is.
TURNS = {"rot90": 8, "rot180": 3, "rot270": 6, "flipx": 4, "flipy": 2, "flipplus1": 5, "flipminus1": 7}


def working_factor(rows: int, cols: int) -> int:
    """The integer factor the working copy is reduced by: its longest side <= WORKING_SIDE, and the largest factor
    that keeps it >= WORKING_SIDE_MIN when that is larger."""
    longest = max(rows, cols)
    return max(1, -(-longest // WORKING_SIDE), longest // WORKING_SIDE_MIN)


class WorkingCopy:
    """A (rows, cols) picture's RGB pixels, box-averaged by `working_factor`, fed as strips of rows from the
    top in any heights: each output pixel is the rounded mean of its factor x factor block (of the pixels
    there are, at the right and bottom edges), exactly as if the whole picture had been reduced at once."""

    def __init__(self, rows: int, cols: int) -> None:
        self.rows, self.cols = rows, cols
        self.factor = working_factor(rows, cols)
        self._out = np.empty((-(-rows // self.factor), -(-cols // self.factor), 3), np.uint8)
        self._done = 0  # output rows written
        self._carry = np.empty((0, cols, 3), np.uint8)
        self.fed = 0  # the picture's rows fed so far: the first row of the strip it wants next

    def feed(self, strip: np.ndarray) -> None:
        """The picture's next rows, (height, cols, 3 or more) uint8; channels past the third are ignored."""
        self.fed += len(strip)
        rows = np.concatenate([self._carry, strip[:, :, :3]]) if len(self._carry) else strip[:, :, :3]
        whole = len(rows) // self.factor * self.factor
        seen = self._done * self.factor + len(rows)
        if seen == self.rows:  # the last strip: its partial block of rows too
            whole = len(rows)
        if whole:
            self._reduce(rows[:whole])
        self._carry = np.array(rows[whole:])

    def _reduce(self, rows: np.ndarray) -> None:
        """Box-average `rows` (a whole number of blocks high, or the picture's last rows): sums down each
        block's rows, then across its columns, with no padded or widened copy of the rows."""
        f = self.factor
        height, cols = rows.shape[:2]
        out_rows, out_cols = -(-height // f), -(-cols // f)
        whole_rows, whole_cols = height // f, cols // f
        # Adding strided views of whole rows (then columns) is 1.5-2x faster than numpy's sum over an axis.
        # uint16 holds a column of f <= 257 samples of 255; the factor stays under 17 up to 2^28 px.
        down = np.empty((out_rows, cols, 3), np.uint32)
        block_rows = rows[: whole_rows * f]
        if whole_rows:
            first = block_rows[0::f].astype(np.uint16)
            for row in range(1, f):
                first += block_rows[row::f]
            down[:whole_rows] = first
        if out_rows > whole_rows:
            down[whole_rows] = rows[whole_rows * f :].sum(axis=0, dtype=np.uint32)
        sums = np.empty((out_rows, out_cols, 3), np.uint32)
        block_cols = down[:, : whole_cols * f]
        if whole_cols:
            across = block_cols[:, 0::f].copy()
            for col in range(1, f):
                across += block_cols[:, col::f]
            sums[:, :whole_cols] = across
        if out_cols > whole_cols:
            sums[:, whole_cols] = down[:, whole_cols * f :].sum(axis=1)
        counts = np.outer(
            np.minimum(f, height - np.arange(out_rows) * f), np.minimum(f, cols - np.arange(out_cols) * f)
        )[:, :, None]
        self._out[self._done : self._done + out_rows] = (sums + counts // 2) // counts
        self._done += out_rows

    def picture(self, orientation: int = 1) -> np.ndarray:
        """The finished working copy, (rows, cols, 3) uint8, turned as the EXIF orientation says."""
        if self._done != len(self._out):
            raise ValueError(f"the working copy has {self._done} of {len(self._out)} rows")
        return np.ascontiguousarray(apply_orientation(self._out, orientation))


def working_copy(rgb: np.ndarray, orientation: int = 1) -> np.ndarray:
    """WorkingCopy of a picture held whole."""
    copy = WorkingCopy(*rgb.shape[:2])
    copy.feed(rgb)
    return copy.picture(orientation)


def _frame_size(width: int, height: int, aspect: tuple[float, float], fit: bool) -> tuple[int, int]:
    """The frame of that aspect a fit surrounds the picture with (or a fill cuts out of it)."""
    ratio = aspect[0] / aspect[1]
    wider = width / height > ratio
    if wider == fit:
        return width, max(1, round(width / ratio))
    return max(1, round(height * ratio)), height


def _placement(width: int, height: int, frame: Frame) -> tuple[int, int, int, int] | None:
    """Where a width x height picture sits in `frame`: (frame width, frame height, left, top) of the picture
    in the frame (a fill: of the frame in the picture), or None when the frame is the picture's own shape."""
    ratio = frame.aspect[0] / frame.aspect[1]
    if abs(width / height - ratio) <= SAME_SHAPE * ratio:
        return None
    frame_width, frame_height = _frame_size(width, height, frame.aspect, fit=frame.how != "fill")
    return frame_width, frame_height, abs(width - frame_width) // 2, abs(height - frame_height) // 2


def _blurred_background(picture: Image.Image, frame_width: int, frame_height: int) -> Image.Image:
    """The picture enlarged to cover the frame, centred, blurred: made at 1/BLUR_SCALE of the frame's size and
    enlarged (a blur that wide leaves nothing a quarter-size copy cannot hold), 5x cheaper."""
    width, height = picture.size
    small_width, small_height = max(1, frame_width // BLUR_SCALE), max(1, frame_height // BLUR_SCALE)
    scale = max(small_width / width, small_height / height)
    cover = picture.resize((max(small_width, round(width * scale)), max(small_height, round(height * scale))))
    left, top = (cover.width - small_width) // 2, (cover.height - small_height) // 2
    background = cover.crop((left, top, left + small_width, top + small_height))
    background = background.filter(ImageFilter.GaussianBlur(BLUR_SHARE * max(small_width, small_height)))
    return background.resize((frame_width, frame_height), Image.BILINEAR)


def framed(picture: Image.Image, frame: Frame) -> Image.Image | None:
    """The picture as `frame` re-frames it, or None when the frame is the picture's own shape."""
    placed = _placement(*picture.size, frame)
    if placed is None:
        return None
    frame_width, frame_height, left, top = placed
    if frame.how == "fill":
        return picture.crop((left, top, left + frame_width, top + frame_height))
    if frame.how == "bars":
        canvas = Image.new("RGB", (frame_width, frame_height))
    else:
        canvas = _blurred_background(picture, frame_width, frame_height)
    canvas.paste(picture, (left, top))
    return canvas


def framed_luma(picture: Image.Image, luma: np.ndarray, frame: Frame) -> list[np.ndarray] | None:
    """pdq.luma_like_pdqhash of `framed(picture, frame)`, bit for bit, as bands of rows stacked top to bottom,
    given the picture's own luma: luma is per pixel, so a crop's is the cropped luma, bars' is 0.0 (black's,
    exactly) and a blurred frame's is the background's luma around the picture's. Only a blurred background's
    pixels are converted again. A frame that adds rows only above and below keeps `luma` itself as a band
    (bars as a broadcast row of zeros), so that PDQ's first pass filters those rows once for every frame."""
    placed = _placement(*picture.size, frame)
    if placed is None:
        return None
    frame_width, frame_height, left, top = placed
    if frame.how == "fill":
        return [luma[top : top + frame_height, left : left + frame_width]]
    height, width = luma.shape
    bottom, right = top + height, left + width
    background = None
    if frame.how == "blur":
        background = np.asarray(_blurred_background(picture, frame_width, frame_height))
    if frame_width == width:
        if background is None:
            zeros = np.zeros((1, width), np.float32)
            return [np.broadcast_to(zeros, (top, width)), luma, np.broadcast_to(zeros, (frame_height - bottom, width))]
        return [luma_like_pdqhash(background[:top]), luma, luma_like_pdqhash(background[bottom:])]
    plane = np.zeros((frame_height, frame_width), np.float32)
    if background is not None:
        around = (np.s_[:top, :], np.s_[bottom:, :], np.s_[top:bottom, :left], np.s_[top:bottom, right:])
        for part in around:
            plane[part] = luma_like_pdqhash(background[part])
    plane[top:bottom, left:right] = luma
    return [plane]


def pdq_copies(work: np.ndarray, original_quality: int) -> tuple[dict[str, dict], dict[str, dict]]:
    """(pdq_variants, pdq_turned) of the working copy `work`, every plane's luma made from the copy's own luma
    (framed_luma; a turn's is the turned luma) and all their PDQs hashed together (pdq.pdq_of_lumas), bit for
    bit as hashing each framed or turned copy on its own."""
    if original_quality < PDQ_MIN_QUALITY:
        return {}, {}
    picture = Image.fromarray(work, "RGB")
    luma = luma_like_pdqhash(work)
    planes = {}
    for frame in FRAMES:
        plane = framed_luma(picture, luma, frame)
        if plane is not None:
            planes["variant", frame.name] = plane
    for name, orientation in TURNS.items():
        planes["turned", name] = apply_orientation(luma, orientation)
    copies: dict[str, dict[str, dict]] = {"variant": {}, "turned": {}}
    for (kind, name), result in zip(planes, pdq_of_lumas(list(planes.values())), strict=True):
        copies[kind][name] = {"hash": result.hash, "quality": result.quality}
    return copies["variant"], copies["turned"]
