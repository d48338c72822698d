"""vPDQ of a video whose frames the browser decodes (web/video.js: a demuxer and WebCodecs), one frame at a time.

The worker demuxes and decodes; this side decides which decoded frames vpdq keeps (vpdq.VpdqHasher), gives the
worker a buffer for each kept frame's pixels, checks them and hashes them. Where the engine hands out the
decoder's own yuv420p planes (Chromium: I420) they go through swscale's conversion as natively (yuv.py), so the
hashes are vpdq's exactly; where it hands out RGB only (Firefox: BGRX) the engine's conversion is hashed, and the
record says so (`vpdq_path`: "i420" or "rgba").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from fractions import Fraction

import numpy as np

from .errors import LocalhashError
from .record import failure_record
from .vpdq import VpdqHasher, run_steps

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


# The check of copied planes against the engine's own drawing of the same frame (plane_check): the planes converted
# to RGB per pixel with the matrix and range the engine drew with (the frame's colour space; clipped as the engine
# clips saturated colours), the frame cut into GRID x GRID cells, and each cell's mean RGB compared with the
# engine's. A correct copy differs only by the engine's chroma upsampling and rounding: measured on the corpus and
# generated videos in Chromium at most 0.46 levels of luma and 0.76 of colour (tests/site/test_vpdq.py prints
# them); the limits leave room above that and stay far below what a wrong copy gives: a wrong stride, another
# frame, the range misread, and on coloured pictures U and V swapped or NV12 read as I420 (10-120 levels,
# tests/core/test_video_browser.py). What it cannot see moves PDQ little: chroma off by a row, U and V swapped on
# a grey picture.
GRID = 16
# Every CHECK_STEP-th row and column (even: chroma samples sit on luma samples there) is read, on both sides: a
# sixteenth of the frame. The faults above are the frame's whole, so a sparser sample sees them as well; at every
# other row and column the check took 23 ms of a 720p frame's 91 in Chromium (bench/video.py --profile).
CHECK_STEP = 4
LUMA_LIMIT = 2.0  # mean absolute difference over the cells, in 8-bit levels
COLOUR_LIMIT = 3.0
# Kr, Kb of the matrices VideoColorSpace names (ITU-R BT.709, BT.601 as SMPTE 170M / BT.470BG, BT.2020).
MATRICES = {
    "bt709": (0.2126, 0.0722),
    "smpte170m": (0.299, 0.114),
    "bt470bg": (0.299, 0.114),
    "bt2020-ncl": (0.2627, 0.0593),
}


# Samples the check reads per step of its job: every cell of a frame up to 1080p at once, a few bands of cells at a
# time beyond. In wasm a numpy call costs microseconds whatever its size, so a band at a time (16 steps of some 30
# calls each) took 7.9-8.8 ms of a 720p frame in Pyodide under node, and this 3.4-7.3 ms (2026-12-02).
CHECK_SAMPLES = 1 << 17


def _cell_sums(pixels: np.ndarray, cell_rows: int, cell_cols: int, down: int, across: int) -> np.ndarray:
    """Sums of the down x across cells of cell_rows x cell_cols samples at the top left of `pixels` (rows, cols,
    channels), (down, across, channels): exact for integers, float64 for floats, without a copy of the area."""
    area = pixels[: cell_rows * down, : cell_cols * across]
    exact = np.int64 if area.dtype.kind in "ui" else np.float64
    return area.reshape(down, cell_rows, across, cell_cols, -1).sum(axis=(1, 3), dtype=exact)


def _band_groups(down: int, samples_per_band: int) -> Iterator[tuple[int, int]]:
    """(first band, bands) of each step: as many bands of cells as CHECK_SAMPLES holds, at least one."""
    group = max(1, CHECK_SAMPLES // max(1, samples_per_band))
    for first in range(0, down, group):
        yield first, min(group, down - first)


def _grid(rows: int, cols: int) -> tuple[int, int, int, int]:
    """(cells down, cells across, cell rows, cell columns) of a grid of at most GRID x GRID cells over rows x cols
    samples (a frame under 64 px a side has fewer cells)."""
    down, across = min(GRID, rows), min(GRID, cols)
    return down, across, rows // down, cols // across


def plane_check(y, u, v, engine_rows: np.ndarray, matrix: str, full_range: bool) -> dict:
    """How far the copied planes are from the engine's RGB drawing of the same frame: {passed, luma_error,
    colour_error}, mean absolute differences over the cells of their luma (BT.601 weights) and of their R, G, B,
    in 8-bit levels. Both are read every CHECK_STEP rows and columns, where a chroma sample sits on its own luma
    sample: `engine_rows` holds the drawing's rows 0, CHECK_STEP, 2 x CHECK_STEP, ... (VideoFrames.reference), and
    the check reads a few bands of cells at a time (CHECK_SAMPLES), so a 4K frame costs a few bands' floats."""
    return run_steps(plane_check_steps(y, u, v, engine_rows, matrix, full_range))


def plane_check_steps(y, u, v, engine_rows: np.ndarray, matrix: str, full_range: bool) -> Iterator[None]:
    """plane_check, yielding after each group of bands of cells; returns its dict."""
    kr, kb = MATRICES.get(str(matrix), MATRICES["smpte170m"])
    kg = 1 - kr - kb
    step, half = CHECK_STEP, CHECK_STEP // 2  # luma samples, chroma samples between two read
    u, v = u[::half, ::half], v[::half, ::half]
    down, across, cell_rows, cell_cols = _grid(*u.shape)
    used = cell_cols * across  # the sampled columns the cells cover
    ours, theirs = np.zeros((down, across, 3)), np.zeros((down, across, 3))
    for first, bands in _band_groups(down, cell_rows * used):
        top, stop = first * cell_rows, (first + bands) * cell_rows
        luma = y[step * top : step * stop : step, : step * used : step].astype(np.float32)
        cb = u[top:stop, :used].astype(np.float32) - 128
        cr = v[top:stop, :used].astype(np.float32) - 128
        if not full_range:
            luma, cb, cr = (luma - 16) * np.float32(255 / 219), cb * np.float32(255 / 224), cr * np.float32(255 / 224)
        r = luma + np.float32(2 * (1 - kr)) * cr
        b = luma + np.float32(2 * (1 - kb)) * cb
        g = (luma - np.float32(kr) * r - np.float32(kb) * b) / np.float32(kg)
        cells = slice(first, first + bands)
        for channel, colour in enumerate((r, g, b)):  # one channel at a time: no (rows, cols, 3) copy
            np.clip(colour, 0, 255, out=colour)
            ours[cells, :, channel] = _cell_sums(colour[:, :, None], cell_rows, cell_cols, bands, across)[:, :, 0]
        # a channel at a time: numpy sums a strided area's one channel faster in wasm
        for channel in range(3):
            drawn = engine_rows[top:stop, : step * used : step, channel, None]
            theirs[cells, :, channel] = _cell_sums(drawn, cell_rows, cell_cols, bands, across)[:, :, 0]
        yield
    return _verdict((ours - theirs) / (cell_rows * cell_cols))


def _verdict(difference: np.ndarray) -> dict:
    """{passed, luma_error, colour_error} of the cells' mean differences (cells down, across, R G B)."""
    luma_error = float(np.abs(difference @ np.array([0.299, 0.587, 0.114])).mean())
    colour_error = float(np.abs(difference).mean())
    passed = luma_error <= LUMA_LIMIT and colour_error <= COLOUR_LIMIT
    return {"passed": passed, "luma_error": round(luma_error, 2), "colour_error": round(colour_error, 2)}


def rgb_check(rgb: np.ndarray, engine_rows: np.ndarray) -> dict:
    """plane_check for a frame the engine hands out as RGB: the copy against the engine's canvas drawing of the
    same frame (both the engine's conversion, so they differ by rounding only), every CHECK_STEP rows and columns
    (`engine_rows` as for plane_check)."""
    return run_steps(rgb_check_steps(rgb, engine_rows))


def rgb_check_steps(rgb: np.ndarray, engine_rows: np.ndarray) -> Iterator[None]:
    """rgb_check, yielding after each group of bands of cells; returns its dict."""
    step = CHECK_STEP
    down, across, cell_rows, cell_cols = _grid(-(-rgb.shape[0] // step), -(-rgb.shape[1] // step))
    difference = np.zeros((down, across, 3))
    for first, bands in _band_groups(down, cell_rows * cell_cols * across):
        top, stop = first * cell_rows, (first + bands) * cell_rows
        ours = _cell_sums(rgb[step * top : step * stop : step, ::step], cell_rows, cell_cols, bands, across)
        theirs = _cell_sums(engine_rows[top:stop, ::step, :3], cell_rows, cell_cols, bands, across)
        difference[first : first + bands] = (ours - theirs) / (cell_rows * cell_cols)
        yield
    return _verdict(difference)


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
