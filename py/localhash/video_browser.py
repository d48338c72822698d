"""vPDQ of a video whose frames the browser decodes (web/video.js: a demuxer and WebCodecs), one frame at a time.

The worker demuxes and decodes; this side decides which decoded frames vpdq keeps (vpdq.VpdqHasher), gives the
worker a buffer for each kept frame's pixels, checks them and hashes them. Where the engine hands out the
decoder's own yuv420p planes (Chromium: I420) they go through swscale's conversion as natively (yuv.py), so the
hashes are vpdq's exactly; where it hands out RGB only (Firefox: BGRX) the engine's conversion is hashed, and the
record says so (`vpdq_path`: "i420" or "rgba").
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .errors import LocalhashError
from .record import failure_record
from .vpdq import VpdqHasher

# How each WebCodecs VideoFrame.format arrives in the buffer (the worker copies it with VideoFrame.copyTo, planes
# packed without padding): the YUV layouts keep the decoder's samples (vpdq_path "i420"), the RGB ones are the
# engine's conversion (vpdq_path "rgba"). NV12 is I420 with U and V interleaved in one plane; I420A's alpha is
# left out (the worker copies its first three planes only).
YUV_LAYOUTS = ("I420", "I420A", "NV12")
RGB_LAYOUTS = ("RGBA", "RGBX", "BGRA", "BGRX")

# Why a video got no vPDQ in this browser, while its MD5 and SHA-256 stand (`vpdq_error.code`, web/MESSAGES.md).
NO_WEBCODECS = "no_webcodecs"  # the browser has no VideoDecoder
UNSUPPORTED_CONTAINER = "unsupported_container"  # a container the worker cannot demux (AVI; WebM for now)
UNSUPPORTED_CODEC = "unsupported_codec"  # VideoDecoder.isConfigSupported says no (HEVC outside Safari, ...)
NOT_DECODED = "not_decoded"  # the browser's decoder failed on the stream (which may be the file's fault or its own)
PIXELS_IMPLAUSIBLE = "pixels_implausible"  # a copied frame was all zeros: the engine copied nothing
DEMUXER_NOT_LOADED = "demuxer_not_loaded"  # mp4box.js could not be downloaded (the next video tries again)
VPDQ_ERRORS = frozenset(
    {NO_WEBCODECS, UNSUPPORTED_CONTAINER, UNSUPPORTED_CODEC, NOT_DECODED, PIXELS_IMPLAUSIBLE, DEMUXER_NOT_LOADED}
)


class VideoFrames:
    """The kept frames of one video stream. `num`/`den`: FFmpeg's average frame rate of the stream (for MP4 the
    worker computes it as FFmpeg's mov demuxer does: samples x timescale / stts duration); `width`, `height`: the
    decoded frames' size; `full_range`: swscale's range, true only where FFmpeg's decoder outputs a `yuvj`
    format (H.264 with the SPS's full-range flag), whatever the file's colour tags say (vpdq's rule).

    For each decoded frame in output order: `wants_next()`; when False, `skip()`; when True, `buffer(layout)`
    is the array the worker copies the frame into and `push(layout)` hashes it (False when the pixels are not
    plausible: `vpdq_error` then says why). A frame under 5 px a side sets `failure`
    (too_small, the whole record fails as natively)."""

    def __init__(self, num: int, den: int, width: int, height: int, full_range: bool) -> None:
        self.width, self.height = int(width), int(height)
        self.vpdq_error: dict | None = None  # the video keeps its digests, without vPDQ
        self.failure: dict | None = None  # the whole record fails (as natively)
        self.path: str | None = None
        self._buffer: np.ndarray | None = None
        self.hasher: VpdqHasher | None = None
        try:
            self.hasher = VpdqHasher(Fraction(int(num), int(den)), self.width, self.height, bool(full_range))
        except LocalhashError as exc:
            self.failure = failure_record(exc)
        except ValueError as exc:  # no frame rate
            self.vpdq_error = {"code": NOT_DECODED, "message": f"the stream has no usable frame rate ({exc})"}

    def wants_next(self) -> bool:
        return self.hasher.wants_next()

    def skip(self) -> None:
        self.hasher.skip()

    def buffer(self, layout: str) -> np.ndarray:
        """A flat uint8 array for one frame in `layout` (planes packed, no padding), reused from frame to frame."""
        size = self._size(str(layout))
        if self._buffer is None or self._buffer.size != size:
            self._buffer = np.empty(size, np.uint8)
        return self._buffer

    def _size(self, layout: str) -> int:
        w, h = self.width, self.height
        if layout in YUV_LAYOUTS:
            return w * h + 2 * ((w + 1) // 2) * ((h + 1) // 2)
        if layout in RGB_LAYOUTS:
            return w * h * 4
        raise ValueError(f"no layout {layout!r}")

    def push(self, layout: str) -> bool:
        """Hash the frame just copied into the buffer. False, with `vpdq_error` set, when it is all zeros: no
        decoder outputs that (black is chroma 128, and alpha or X is 255), only a copy that copied nothing."""
        layout = str(layout)
        data = self._buffer
        if data is None or data.size != self._size(layout):
            raise ValueError("push() without a filled buffer(layout)")
        if not data.any():
            self.vpdq_error = {
                "code": PIXELS_IMPLAUSIBLE,
                "message": f"frame {self.hasher.decoded} was copied from the browser's decoder as zeros",
            }
            return False
        w, h = self.width, self.height
        path = "i420" if layout in YUV_LAYOUTS else "rgba"
        if self.path not in (None, path):  # a stream whose frames change format mid-way: say the weaker path
            path = "rgba"
        self.path = path
        if layout in YUV_LAYOUTS:
            cw, ch = (w + 1) // 2, (h + 1) // 2
            y = data[: w * h].reshape(h, w)
            chroma = data[w * h :]
            if layout == "NV12":
                uv = chroma.reshape(ch, cw, 2)
                u, v = uv[:, :, 0], uv[:, :, 1]
            else:
                u = chroma[: cw * ch].reshape(ch, cw)
                v = chroma[cw * ch :].reshape(ch, cw)
            self.hasher.push(y, u, v)
        else:
            pixels = data.reshape(h, w, 4)
            self.hasher.push_rgb(pixels[:, :, 2::-1] if layout.startswith("BGR") else pixels)
        return True

    def fail(self, code: str, message: str) -> None:
        """No vPDQ for this video, for `code` (VPDQ_ERRORS): its record keeps MD5 and SHA-256 and says why."""
        self.vpdq_error = vpdq_unavailable(code, message)["vpdq_error"]

    def fields(self) -> dict:
        """What the video's record adds: its vPDQ and the path its pixels took, or why it has none."""
        if self.vpdq_error is not None:
            return {"vpdq_error": self.vpdq_error}
        return {"vpdq": self.hasher.strings(), "vpdq_path": self.path or "i420"}


def vpdq_unavailable(code: str, message: str) -> dict:
    """The fields a video's record adds when the browser makes no vPDQ of it: its MD5 and SHA-256 stand."""
    if str(code) not in VPDQ_ERRORS:
        raise ValueError(f"no vPDQ error {code!r}")
    return {"vpdq_error": {"code": str(code), "message": str(message)[:300]}}


def mov_frame_rate(sample_counts, sample_deltas, timescale: int) -> tuple[int, int]:
    """FFmpeg's average frame rate of an MP4/MOV track from its `stts` runs (libavformat/mov.c mov_read_stts and
    mov_read_header): samples x timescale / total duration, where a last run of one sample more than ten times the
    average so far counts as the average (integer divisions, as there). (0, 1) when the duration is 0."""
    counts, deltas = [int(c) for c in sample_counts], [int(d) for d in sample_deltas]
    duration = total = 0
    for i, (count, delta) in enumerate(zip(counts, deltas, strict=True)):
        if i + 1 == len(counts) and i and count == 1 and total > 100 and delta // 10 > duration // total:
            delta = duration // total
        duration += delta * count
        total += count
    if duration <= 0 or total <= 0:
        return 0, 1
    rate = Fraction(int(timescale) * total, duration)
    return rate.numerator, rate.denominator


def video_frames(num: int, den: int, width: int, height: int, full_range: bool) -> VideoFrames:
    """A VideoFrames for the worker (web/video.js), made at the stream's first decoded frame."""
    return VideoFrames(num, den, width, height, full_range)
