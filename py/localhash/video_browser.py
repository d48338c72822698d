"""vPDQ of a video whose frames the browser decodes (web/video.js: a demuxer and WebCodecs), one frame at a time.

The worker demuxes and decodes; this side decides which decoded frames vpdq keeps (vpdq.VpdqHasher), gives the
worker a buffer for each kept frame's pixels, checks them (video_check.py) and hashes them. Where the engine hands
out the decoder's own yuv420p planes (Chromium: I420) they go through swscale's conversion as natively (yuv.py), so
the hashes are vpdq's exactly; where it hands out RGB only (Firefox: BGRX) the engine's conversion is hashed, and
the record says so (`vpdq_path`: "i420" or "rgba").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from fractions import Fraction

import numpy as np

from .errors import LocalhashError
from .record import failure_record
from .video_check import CHECK_STEP, plane_check_steps, rgb_check_steps
from .vpdq import VpdqHasher

# How each WebCodecs VideoFrame.format arrives in the buffer (the worker copies it with VideoFrame.copyTo, planes
# packed without padding): the YUV layouts keep the decoder's samples (vpdq_path "i420"), the RGB ones are the
# engine's conversion (vpdq_path "rgba"). NV12 is I420 with U and V interleaved in one plane; I420A's alpha is
# left out (the worker copies its first three planes only).
YUV_LAYOUTS = ("I420", "I420A", "NV12")
RGB_LAYOUTS = ("RGBA", "RGBX", "BGRA", "BGRX")

# Why a video got no vPDQ in this browser, while its MD5 and SHA-256 stand (`vpdq_error.code`, web/MESSAGES.md).
NO_WEBCODECS = "no_webcodecs"  # the browser has no VideoDecoder
UNSUPPORTED_CONTAINER = "unsupported_container"  # a container not demuxed (AVI; WebM without DefaultDuration)
UNSUPPORTED_CODEC = "unsupported_codec"  # VideoDecoder.isConfigSupported says no (HEVC outside Safari, ...)
NOT_DECODED = "not_decoded"  # the browser's decoder failed on the stream (which may be the file's fault or its own)
PIXELS_IMPLAUSIBLE = "pixels_implausible"  # a copied frame was all zeros: the engine copied nothing
PIXELS_DIFFER = "pixels_differ"  # the copied planes are not the picture the engine draws of the same frame
DEMUXER_NOT_LOADED = "demuxer_not_loaded"  # mp4box.js or Mediabunny not downloaded (the next video tries again)
VIDEO_STALLED = "video_stalled"  # the demuxer or decoder went silent for a minute: the page replaced the worker
VPDQ_ERRORS = frozenset(
    {NO_WEBCODECS, UNSUPPORTED_CONTAINER, UNSUPPORTED_CODEC, NOT_DECODED, PIXELS_IMPLAUSIBLE, PIXELS_DIFFER}
    | {DEMUXER_NOT_LOADED, VIDEO_STALLED}
)


class VideoFrames:
    """The kept frames of one video stream. `num`/`den`: FFmpeg's average frame rate of the stream (for MP4 the
    worker computes it as FFmpeg's mov demuxer does: samples x timescale / stts duration); `width`, `height`: the
    decoded frames' size; `full_range`: swscale's range, true only where FFmpeg's decoder outputs a `yuvj`
    format (H.264 with the SPS's full-range flag), whatever the file's colour tags say (vpdq's rule).

    The worker calls `take()` for each decoded frame in output order, as soon as the decoder outputs it: True when
    vpdq keeps it. Each kept frame, in the same order and possibly later, is copied into `buffer(layout)` (and the
    engine's drawing of it into `reference()`), then `job(layout, ...)` checks and hashes it in pieces (FrameJob),
    so that the worker's thread can serve its decoder in between. `push(layout)` does both at once for the next
    frame. A frame under 5 px a side sets `failure` (too_small, the whole record fails as natively); pixels that
    are not plausible set `vpdq_error`."""

    def __init__(self, num: int, den: int, width: int, height: int, full_range: bool) -> None:
        self.width, self.height = int(width), int(height)
        self.vpdq_error: dict | None = None  # the video keeps its digests, without vPDQ
        self.failure: dict | None = None  # the whole record fails (as natively)
        self.path: str | None = None
        self.check: dict | None = None  # the worst plane_check of the frames hashed so far
        self._buffer: np.ndarray | None = None
        self._reference: np.ndarray | None = None
        self.hasher: VpdqHasher | None = None
        self._kept: deque[int] = deque()  # numbers of the frames taken and not yet hashed, in order
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

    def take(self) -> bool:
        """Counts the next decoded frame as FFmpeg counts them: True when vpdq keeps it (the worker then copies
        it and hashes it with `job`), False when it can be closed at once."""
        frame_number = self.hasher.take()
        if frame_number is not None:
            self._kept.append(frame_number)
        return frame_number is not None

    def buffer(self, layout: str) -> np.ndarray:
        """A flat uint8 array for one frame in `layout` (planes packed, no padding), reused from frame to frame."""
        size = self._size(str(layout))
        if self._buffer is None or self._buffer.size != size:
            self._buffer = np.empty(size, np.uint8)
        return self._buffer

    reference_step = CHECK_STEP

    def reference(self) -> np.ndarray:
        """A (rows, width, 4) uint8 array for the rows the check reads of the engine's RGBA drawing of the frame:
        rows 0, reference_step, 2 x reference_step, ... (the worker copies those)."""
        if self._reference is None:
            self._reference = np.empty((-(-self.height // CHECK_STEP), self.width, 4), np.uint8)
        return self._reference

    def _size(self, layout: str) -> int:
        w, h = self.width, self.height
        if layout in YUV_LAYOUTS:
            return w * h + 2 * ((w + 1) // 2) * ((h + 1) // 2)
        if layout in RGB_LAYOUTS:
            return w * h * 4
        raise ValueError(f"no layout {layout!r}")

    def push(self, layout: str, matrix: str | None = None, full_range: bool = False) -> bool:
        """Take the next decoded frame, one vpdq keeps (wants_next()), and hash it as just copied into the
        buffer, all at once: `job`'s answer."""
        if not self.take():
            raise ValueError("the next frame is one vpdq does not hash: skip it")
        job = self.job(layout, matrix, full_range)
        while job.step():
            pass
        return job.ok

    def job(self, layout: str, matrix: str | None = None, full_range: bool = False) -> FrameJob:
        """The check and hash of the oldest kept frame not yet hashed, just copied into `buffer(layout)`, as a
        FrameJob (step it to the end). Its `ok` is False, with `vpdq_error` set, when the YUV planes or the RGBA
        are all zeros (no decoder outputs that: black is chroma 128, alpha 255; an RGBX or BGRX frame may be black
        with X 0), or, given the engine's drawing of it in `reference()` (and, for planes, the `matrix` and range
        it drew with), when the copy is not that picture (plane_check, rgb_check)."""
        if not self._kept:
            raise ValueError("job() without a frame take() kept")
        return FrameJob(self._steps(str(layout), self._kept.popleft(), matrix, full_range))

    def _steps(self, layout: str, frame: int, matrix: str | None, full_range: bool) -> Iterator[None]:
        data = self._buffer
        if data is None or data.size != self._size(layout):
            raise ValueError("job() without a filled buffer(layout)")
        if layout not in ("RGBX", "BGRX") and not data.any():
            self.fail(PIXELS_IMPLAUSIBLE, f"frame {frame} was copied from the browser's decoder as zeros")
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
            if matrix is not None:
                check = yield from plane_check_steps(y, u, v, self.reference(), str(matrix), bool(full_range))
                if not self._checked(check, frame):
                    return False
            yield from self.hasher.steps(frame, y, u, v)
        else:
            pixels = data.reshape(h, w, 4)
            rgb = pixels[:, :, 2::-1] if layout.startswith("BGR") else pixels[:, :, :3]
            if matrix is not None:
                check = yield from rgb_check_steps(rgb, self.reference())
                if not self._checked(check, frame):
                    return False
            yield from self.hasher.rgb_steps(frame, rgb)
        return True

    def _checked(self, check: dict, frame: int) -> bool:
        self._worst(check)
        if not check["passed"]:
            message = (
                f"frame {frame} as copied is not the picture the browser draws of it "
                f"(luma {check['luma_error']}, colour {check['colour_error']} levels apart)"
            )
            self.fail(PIXELS_DIFFER, message)
        return check["passed"]

    def _worst(self, check: dict) -> None:
        if self.check is None:
            self.check = dict(check)
            return
        self.check["passed"] = self.check["passed"] and check["passed"]
        for key in ("luma_error", "colour_error"):
            self.check[key] = max(self.check[key], check[key])

    def fail(self, code: str, message: str) -> None:
        """No vPDQ for this video, for `code` (VPDQ_ERRORS): its record keeps MD5 and SHA-256 and says why."""
        self.vpdq_error = vpdq_unavailable(code, message)["vpdq_error"]

    def fields(self) -> dict:
        """What the video's record adds: its vPDQ and the path its pixels took, or why it has none."""
        if self.vpdq_error is not None:
            return {"vpdq_error": self.vpdq_error}
        fields = {"vpdq": self.hasher.strings(), "vpdq_path": self.path or "i420"}
        if self.check is not None:
            fields["vpdq_check"] = self.check
        return fields


class FrameJob:
    """One kept frame's check and hash in pieces, for the worker: `step()` does the next piece (a band of the
    check, a strip's conversion, a pass of PDQ's filter, each some milliseconds) and says whether any is left;
    between two steps the worker's thread serves its decoder. `ok` is the answer once no step is left."""

    def __init__(self, steps: Iterator[None]) -> None:
        self._steps = steps
        self.ok: bool | None = None

    def step(self) -> bool:
        try:
            next(self._steps)
        except StopIteration as done:
            self.ok = bool(done.value)
            return False
        return True


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
