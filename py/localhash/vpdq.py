"""Meta's vPDQ of a video fed one decoded yuv420p frame at a time: which frames vpdq keeps, PDQ and quality of
each, its timestamps and python-threatexchange's `"hex,quality,timestamp"` strings.

No decoder here: the caller passes each decoded frame's planes (natively video_native.py with PyAV; in the
browser, later, WebCodecs' I420 planes), so the same code runs in Pyodide. Follows ThreatExchange
vpdq/cpp/vpdq/cpp/hashing/filehasher.cpp and hasher.h (vpdq 0.2.5) and python-threatexchange
extensions/vpdq/vpdq_util.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import TOO_SMALL, LocalhashError
from .pdq import MIN_HASHABLE_DIM, PdqStream, luma_like_reference_cli, luma_of_channels, strip_rows
from .yuv import SWSCALE_FLAVOURS, Swscale, i420_to_rgb, x86_channels

# python-threatexchange extensions/vpdq/vpdq_util.py: a timestamp is printed with format spec ".3" (three
# significant digits, so 12.345 s prints as "12.3" and 123.4 s as "1.23e+02"), exactly as HMA stores it.
VPDQ_TIMESTAMP_PRECISION = 3
# vpdq hashes one frame per second by default (vpdq.computeHash seconds_per_hash=1.0; VPDQSignal.hash_from_file).
SECONDS_PER_HASH = 1.0
# Pixels converted to RGB and luma at a time: a few MB of temporaries, which stay in cache (a whole 1080p frame at
# once took 2.4 times as long natively), and in the browser one piece of work between two turns of the event loop.
CONVERT_PIXELS = 1 << 18


@dataclass(frozen=True)
class VpdqFeature:
    """One kept frame: PDQ hex and quality, its number among the decoded frames, vpdq's timestamp."""

    hash: str
    quality: int
    frame_number: int
    timestamp: float

    def __str__(self) -> str:
        """python-threatexchange's VpdqCompactFeature serialisation, "hex,quality,timestamp"."""
        return f"{self.hash},{self.quality},{self.timestamp:.{VPDQ_TIMESTAMP_PRECISION}}"


def frame_interval(frame_rate: float, seconds_per_hash: float = SECONDS_PER_HASH) -> int:
    """vpdq keeps decoded frames whose number is a multiple of this: `(int)(secondsPerHash * frameRate)`,
    1 when that truncates to 0 (FFmpegHasher's constructor)."""
    return int(seconds_per_hash * frame_rate) or 1


def vpdq_timestamp(frame_number: int, frame_rate: float) -> float:
    """hashFrame's timestamp: frame number over the frame rate, both cast to C float, divided in float."""
    return float(np.float32(frame_number) / np.float32(frame_rate))


def as_frame_rate(rate: float | Fraction | tuple[int, int]) -> float:
    """The frame rate as vpdq holds it, a double num / den of the stream's average frame rate (FFmpeg's
    avg_frame_rate, or r_frame_rate when that is 0/0)."""
    if isinstance(rate, tuple):
        num, den = rate
        return num / den
    return float(rate)


class VpdqHasher:
    """vPDQ of one video: `push` every decoded frame in the order the decoder outputs them; `features` are
    the kept frames' hashes, in frame order. Holds one frame's floats at a time, never the video.

    `width`, `height` are the stream's (vpdq converts and hashes every frame at that size); `full_range` is
    what swscale assumes, true only for a `yuvj` pixel format (vpdq never passes the stream's colour range
    or matrix: BT.601 always); `swscale` picks the conversion's arithmetic (yuv.py).
    """

    def __init__(
        self,
        frame_rate: float | Fraction | tuple[int, int],
        width: int,
        height: int,
        full_range: bool = False,
        swscale: Swscale = "x86",
        seconds_per_hash: float = SECONDS_PER_HASH,
    ) -> None:
        if swscale not in SWSCALE_FLAVOURS:
            raise ValueError(f"swscale must be one of {SWSCALE_FLAVOURS}, got {swscale!r}")
        self.frame_rate = as_frame_rate(frame_rate)
        if not self.frame_rate > 0:
            raise ValueError(f"frame rate must be positive, got {frame_rate!r}")
        if width < MIN_HASHABLE_DIM or height < MIN_HASHABLE_DIM:
            # vpdq fails the whole video ("Frame width or height smaller than the minimum hashable dimension")
            raise LocalhashError(
                TOO_SMALL, f"a video frame of {width}x{height}: vPDQ needs {MIN_HASHABLE_DIM} px a side"
            )
        self.width, self.height = width, height
        self.full_range = full_range
        self.swscale = swscale
        self.interval = frame_interval(self.frame_rate, seconds_per_hash)
        self.decoded = 0  # frames pushed so far: FFmpeg's frame_num - 1 for the next one
        self.features: list[VpdqFeature] = []

    def wants_next(self) -> bool:
        """Whether the next decoded frame is one vpdq hashes (the caller may skip copying the others)."""
        return self.decoded % self.interval == 0

    def skip(self) -> None:
        """The next decoded frame is one vpdq does not hash (wants_next() was False): only counted."""
        if self.wants_next():
            raise ValueError("the next frame is one vpdq hashes: push it")
        self.decoded += 1

    def take(self) -> int | None:
        """Counts the next decoded frame: its number when vpdq hashes it (then hash it with `steps` or
        `rgb_steps`, the kept frames in this order), else None."""
        frame_number = self.decoded
        self.decoded += 1
        return None if frame_number % self.interval else frame_number

    def push(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> VpdqFeature | None:
        """The next decoded frame's planes, uint8: luma (height, width) and chroma ((height + 1) // 2,
        (width + 1) // 2), each possibly wider (a stride's padding is cut off here). Returns its feature when
        kept, else None."""
        frame_number = self.take()
        return None if frame_number is None else run_steps(self.steps(frame_number, y, u, v))

    def push_rgb(self, rgb: np.ndarray) -> VpdqFeature | None:
        """The next decoded frame already converted to RGB by its decoder, uint8 (height, width, >= 3 channels,
        possibly wider): for a decoder that hands out no YUV planes (Firefox's WebCodecs gives BGRX). Its colours
        are that decoder's conversion, not swscale's BT.601 one, so its hashes are near vpdq's, not bit-exact."""
        frame_number = self.take()
        return None if frame_number is None else run_steps(self.rgb_steps(frame_number, rgb))

    def steps(self, frame_number: int, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> Iterator[None]:
        """push's work for the kept frame `frame_number` (from take), in pieces: yields between them, so that
        the browser's worker lets its decoder run in between; its feature is recorded, and returned, at the end.
        """
        return self._feature(frame_number, self._pdq(y, u, v))

    def rgb_steps(self, frame_number: int, rgb: np.ndarray) -> Iterator[None]:
        """push_rgb's work for the kept frame `frame_number`, in pieces (as steps)."""
        return self._feature(frame_number, self._pdq_of_rgb(rgb))

    def _feature(self, frame_number: int, pdq: Iterator[None]) -> Iterator[None]:
        if self.features and frame_number <= self.features[-1].frame_number:
            raise ValueError(f"frame {frame_number} hashed after frame {self.features[-1].frame_number}")
        hash_, quality = yield from pdq
        feature = VpdqFeature(hash_, quality, frame_number, vpdq_timestamp(frame_number, self.frame_rate))
        self.features.append(feature)
        return feature

    def _pdq(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> Iterator[None]:
        rows, cols = self.height, self.width
        chroma = ((rows + 1) // 2, (cols + 1) // 2)
        if (
            y.shape[0] < rows
            or y.shape[1] < cols
            or any(p.shape[0] < chroma[0] or p.shape[1] < chroma[1] for p in (u, v))
        ):
            raise ValueError(f"planes {y.shape}, {u.shape}, {v.shape} are smaller than a {cols}x{rows} yuv420p frame")
        u, v = u[: chroma[0], : chroma[1]], v[: chroma[0], : chroma[1]]
        # even, so that each strip and each piece starts on a chroma row (swscale converts pairs of rows alone)
        step = max(2, strip_rows(cols) & ~1)
        piece = max(2, strip_rows(cols, CONVERT_PIXELS) & ~1)
        stream = PdqStream(rows, cols)
        for top in range(0, rows, step):
            luma = np.empty((min(step, rows - top), cols), np.float32)
            for at in range(0, len(luma), piece):
                part = y[top + at : top + min(at + piece, len(luma)), :cols]
                luma[at : at + len(part)] = self._luma(part, u, v, top + at)
                yield
            yield from stream.feed_luma_steps(luma)
        result = stream.result()
        return result.hash, result.quality

    def _luma(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, first_row: int) -> np.ndarray:
        """The float32 luma vpdq hashes of luma rows `y` from `first_row`: PDQ's C++ luma (fillFloatLumaFromRGB), as
        Meta's CLI computes it, not pdqhash's, of swscale's RGB. An even strip of x86's is computed a channel at a
        time (x86_channels: the same integers), a third as long natively as through a whole RGB array."""
        if self.swscale == "x86" and not (len(y) | y.shape[1] | first_row) & 1:
            return luma_of_channels(x86_channels(y, u, v, self.full_range, first_row))
        return luma_like_reference_cli(i420_to_rgb(y, u, v, self.full_range, self.swscale, first_row=first_row))

    def _pdq_of_rgb(self, rgb: np.ndarray) -> Iterator[None]:
        rows, cols = self.height, self.width
        if rgb.ndim != 3 or rgb.shape[0] < rows or rgb.shape[1] < cols or rgb.shape[2] < 3:
            raise ValueError(f"pixels {rgb.shape} are smaller than a {cols}x{rows} RGB frame")
        step = strip_rows(cols)
        piece = strip_rows(cols, CONVERT_PIXELS)
        stream = PdqStream(rows, cols)
        for top in range(0, rows, step):
            luma = np.empty((min(step, rows - top), cols), np.float32)
            for at in range(0, len(luma), piece):
                luma[at : at + piece] = luma_like_reference_cli(rgb[top + at : top + min(at + piece, len(luma)), :cols])
                yield
            yield from stream.feed_luma_steps(luma)
        result = stream.result()
        return result.hash, result.quality

    def strings(self) -> list[str]:
        """The kept frames as python-threatexchange stores them (VPDQSignal: a JSON list of these)."""
        return [str(f) for f in self.features]


def run_steps(steps: Iterator[None]):
    """Runs a job made of steps (a generator yielding between its pieces) to its end: its return value."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value
