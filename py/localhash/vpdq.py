"""Meta's vPDQ of a video fed one decoded yuv420p frame at a time: which frames vpdq keeps, PDQ and quality of
each, its timestamps and python-threatexchange's `"hex,quality,timestamp"` strings.

No decoder here: the caller passes each decoded frame's planes (natively video_native.py with PyAV; in the
browser, later, WebCodecs' I420 planes), so the same code runs in Pyodide. Follows ThreatExchange
vpdq/cpp/vpdq/cpp/hashing/filehasher.cpp and hasher.h (vpdq 0.2.5) and python-threatexchange
extensions/vpdq/vpdq_util.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import TOO_SMALL, LocalhashError
from .pdq import MIN_HASHABLE_DIM, PdqStream, luma_like_reference_cli, strip_rows
from .yuv import SWSCALE_FLAVOURS, Swscale, i420_to_rgb

# python-threatexchange extensions/vpdq/vpdq_util.py: a timestamp is printed with format spec ".3" (three
# significant digits, so 12.345 s prints as "12.3" and 123.4 s as "1.23e+02"), exactly as HMA stores it.
VPDQ_TIMESTAMP_PRECISION = 3
# vpdq hashes one frame per second by default (vpdq.computeHash seconds_per_hash=1.0; VPDQSignal.hash_from_file).
SECONDS_PER_HASH = 1.0


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

    def push(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> VpdqFeature | None:
        """The next decoded frame's planes, uint8: luma (height, width) and chroma ((height + 1) // 2,
        (width + 1) // 2), each possibly wider (a stride's padding is cut off here). Returns its feature when
        kept, else None."""
        return self._keep(lambda: self._pdq(y, u, v))

    def push_rgb(self, rgb: np.ndarray) -> VpdqFeature | None:
        """The next decoded frame already converted to RGB by its decoder, uint8 (height, width, >= 3 channels,
        possibly wider): for a decoder that hands out no YUV planes (Firefox's WebCodecs gives BGRX). Its colours
        are that decoder's conversion, not swscale's BT.601 one, so its hashes are near vpdq's, not bit-exact."""
        return self._keep(lambda: self._pdq_of_rgb(rgb))

    def _keep(self, pdq) -> VpdqFeature | None:
        frame_number = self.decoded
        self.decoded += 1
        if frame_number % self.interval:
            return None
        feature = VpdqFeature(*pdq(), frame_number, vpdq_timestamp(frame_number, self.frame_rate))
        self.features.append(feature)
        return feature

    def _pdq(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> tuple[str, int]:
        rows, cols = self.height, self.width
        chroma = ((rows + 1) // 2, (cols + 1) // 2)
        if (
            y.shape[0] < rows
            or y.shape[1] < cols
            or any(p.shape[0] < chroma[0] or p.shape[1] < chroma[1] for p in (u, v))
        ):
            raise ValueError(f"planes {y.shape}, {u.shape}, {v.shape} are smaller than a {cols}x{rows} yuv420p frame")
        u, v = u[: chroma[0], : chroma[1]], v[: chroma[0], : chroma[1]]
        stream = PdqStream(rows, cols)
        step = max(2, strip_rows(cols) & ~1)  # even, so each strip starts on a chroma row
        for top in range(0, rows, step):
            strip = y[top : min(top + step, rows), :cols]
            rgb = i420_to_rgb(strip, u, v, self.full_range, self.swscale, first_row=top)
            # vpdq hashes with PDQ's C++ luma (fillFloatLumaFromRGB: float32), as Meta's CLI does, not pdqhash's
            stream.feed_luma(luma_like_reference_cli(rgb))
        result = stream.result()
        return result.hash, result.quality

    def _pdq_of_rgb(self, rgb: np.ndarray) -> tuple[str, int]:
        rows, cols = self.height, self.width
        if rgb.ndim != 3 or rgb.shape[0] < rows or rgb.shape[1] < cols or rgb.shape[2] < 3:
            raise ValueError(f"pixels {rgb.shape} are smaller than a {cols}x{rows} RGB frame")
        stream = PdqStream(rows, cols)
        step = strip_rows(cols)
        for top in range(0, rows, step):
            stream.feed_luma(luma_like_reference_cli(rgb[top : min(top + step, rows), :cols]))
        result = stream.result()
        return result.hash, result.quality

    def strings(self) -> list[str]:
        """The kept frames as python-threatexchange stores them (VPDQSignal: a JSON list of these)."""
        return [str(f) for f in self.features]
