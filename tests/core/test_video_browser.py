"""The browser's side of vPDQ in Python (video_browser.py, video_check.py): every layout the worker copies gives the
hashes of the decoder's planes, a copy of zeros is refused, a wrong copy fails the check, FFmpeg's average frame rate
of an MP4, the record's shapes."""

from __future__ import annotations

import numpy as np
import pytest

from localhash.browser import VideoHasher, video_corrupt
from localhash.video_browser import mov_frame_rate, video_frames, vpdq_unavailable
from localhash.video_check import CHECK_STEP, plane_check, rgb_check
from localhash.vpdq import VpdqHasher
from localhash.yuv import i420_to_rgb
from tests.conftest import require_corpus

W, H = 97, 70  # an odd width: chroma is (W + 1) // 2 wide


def planes(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(16, 236, (H, W), dtype=np.uint8)
    y[: H // 2] //= 2  # structure, so that PDQ's quality is not 0
    u, v = (rng.integers(16, 241, ((H + 1) // 2, (W + 1) // 2), dtype=np.uint8) for _ in range(2))
    return y, u, v


def packed(layout: str, y, u, v) -> np.ndarray:
    if layout == "I420":
        return np.concatenate([y.ravel(), u.ravel(), v.ravel()])
    if layout == "NV12":
        return np.concatenate([y.ravel(), np.stack([u, v], axis=-1).ravel()])
    rgb = i420_to_rgb(y, u, v, False, "x86")
    rgba = np.concatenate([rgb, np.full((*y.shape, 1), 255, np.uint8)], axis=-1)
    return (rgba[:, :, [2, 1, 0, 3]] if layout.startswith("BGR") else rgba).ravel()


def browser_strings(layout: str, frames_in: int = 60) -> tuple[list[str], str]:
    frames = video_frames(25, 1, W, H, False)
    for i in range(frames_in):
        if not frames.wants_next():
            frames.skip()
            continue
        frames.buffer(layout)[...] = packed(layout, *planes(i))
        assert frames.push(layout)
    fields = frames.fields()
    return fields["vpdq"], fields["vpdq_path"]


def native_strings(frames_in: int = 60) -> list[str]:
    hasher = VpdqHasher(25, W, H)
    for i in range(frames_in):
        hasher.push(*planes(i))
    return hasher.strings()


@pytest.mark.parametrize("layout", ["I420", "NV12"])
def test_yuv_layouts_are_the_decoders_planes_exactly(layout):
    assert browser_strings(layout) == (native_strings(), "i420")


@pytest.mark.parametrize("layout", ["RGBA", "BGRX"])
def test_rgb_layouts_hash_the_engines_conversion_and_say_so(layout):
    # given swscale's own RGB, the RGB path is exact too: what differs in Firefox is only the engine's conversion
    assert browser_strings(layout) == (native_strings(), "rgba")


def test_a_copy_of_zeros_is_refused_and_the_digests_stay():
    frames = video_frames(25, 1, W, H, False)
    frames.buffer("I420")[...] = 0
    assert frames.push("I420") is False
    hasher = VideoHasher("MP4")
    hasher.update(b"\0\0\0\x18ftypisom" + bytes(100))
    record = hasher.record(frames)
    assert record["ok"] and record["md5"] and record["vpdq_error"]["code"] == "pixels_implausible"
    assert "vpdq" not in record


def test_record_shapes():
    hasher = VideoHasher("MP4")
    hasher.update(b"video bytes")
    assert set(hasher.record()) == {"ok", "media", "format", "md5", "sha256"}
    none = hasher.record(vpdq_unavailable("unsupported_codec", "no HEVC here"))
    assert none["ok"] and none["vpdq_error"] == {"code": "unsupported_codec", "message": "no HEVC here"}
    with pytest.raises(ValueError):
        vpdq_unavailable("made_up", "")
    assert hasher.record(video_frames(25, 1, 4, 4, False))["error"]["code"] == "too_small"
    assert video_corrupt("no moov")["error"]["code"] == "corrupt_video"


def test_mov_frame_rate_is_ffmpegs():
    assert mov_frame_rate([150], [512], 12800) == (25, 1)
    assert mov_frame_rate([180], [1001], 30000) == (30000, 1001)
    # a last sample lasting over ten times the average counts as the average (mov_read_stts)
    assert mov_frame_rate([120, 1], [1000, 50000], 30000) == (30, 1)
    assert mov_frame_rate([], [], 30000) == (0, 1)
    assert mov_frame_rate([50, 1], [1000, 50000], 30000) == (153, 10)  # 100 samples or fewer: the run counts whole


def decoded_frames(path, every: int, count: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every `every`-th frame's yuv420p planes as PyAV decodes them, `count` of them."""
    import av

    found = []
    with av.open(str(path)) as container:
        for number, frame in enumerate(container.decode(video=0)):
            if number % every == 0:
                h, w = frame.height, frame.width
                sizes = ((h, w), ((h + 1) // 2, (w + 1) // 2), ((h + 1) // 2, (w + 1) // 2))
                planes = [
                    np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:rows, :cols].copy()
                    for plane, (rows, cols) in zip(frame.planes, sizes, strict=True)
                ]
                found.append(tuple(planes))
            if len(found) == count:
                return found
    return found


def skewed(y, u, v, extra: int):
    """The planes as a copy with a stride `extra` bytes off would give them."""
    h, w = y.shape
    data = np.concatenate([y.ravel(), u.ravel(), v.ravel(), np.zeros(8 * h, np.uint8)])
    wide, cw, ch = w + extra, (w + extra + 1) // 2, (h + 1) // 2
    chroma = data[wide * h :]
    return (
        data[: wide * h].reshape(h, wide)[:, :w],
        chroma[: cw * ch].reshape(ch, cw)[:, : u.shape[1]],
        chroma[cw * ch : 2 * cw * ch].reshape(ch, cw)[:, : u.shape[1]],
    )


def test_the_plane_check_passes_a_right_copy_and_fails_wrong_ones():
    """The engine's drawing stands in as swscale's conversion of the same planes (BT.601, limited range): a right
    copy passes; a wrong stride, another frame, the range misread, U and V swapped, NV12 read as I420 fail."""
    corpus = require_corpus()
    (y, u, v), _, (y2, u2, v2) = decoded_frames(corpus / "vpdq/videos/pattern-hd-no-bar.mp4", 25, 3)
    drawn = np.concatenate([i420_to_rgb(y, u, v, False, "x86"), np.full((*y.shape, 1), 255, np.uint8)], axis=-1)
    interleaved = np.stack([u, v], axis=-1).ravel()
    faults = {
        "stride +2": (*skewed(y, u, v, 2), False),
        "stride -2": (*skewed(y, u, v, -2), False),
        "another frame": (y2, u2, v2, False),
        "full range misread": (y, u, v, True),
        "U and V swapped": (y, v, u, False),
        "NV12 as I420": (y, interleaved[: u.size].reshape(u.shape), interleaved[u.size :].reshape(u.shape), False),
    }
    drawn = drawn[::CHECK_STEP]  # the rows the worker copies
    right = plane_check(y, u, v, drawn, "smpte170m", False)
    assert right["passed"] and right["luma_error"] < 1.5, right
    for name, (fy, fu, fv, full_range) in faults.items():
        check = plane_check(fy, fu, fv, drawn, "smpte170m", full_range)
        assert not check["passed"], (name, check)


def test_a_frame_whose_planes_fail_the_check_stops_the_vpdq_and_says_why():
    y, u, v = planes(1)
    drawn = np.concatenate([i420_to_rgb(y, u, v, False, "x86"), np.full((H, W, 1), 255, np.uint8)], axis=-1)
    drawn = drawn[::CHECK_STEP]  # the rows the worker copies
    frames = video_frames(25, 1, W, H, False)
    frames.reference()[...] = drawn
    frames.buffer("I420")[...] = packed("I420", y, u, v)
    assert frames.push("I420", "smpte170m", False)
    for _ in range(24):
        frames.skip()
    frames.reference()[...] = drawn
    frames.buffer("I420")[...] = packed("I420", y, v, u)  # U and V swapped
    assert frames.push("I420", "smpte170m", False) is False
    error = frames.fields()["vpdq_error"]
    assert error["code"] == "pixels_differ" and "frame 25" in error["message"]


def test_an_rgb_copy_is_checked_against_the_engines_drawing_and_a_black_bgrx_frame_is_hashed():
    y, u, v = planes(2)
    rgba = packed("RGBA", y, u, v).reshape(H, W, 4)
    assert rgb_check(rgba[:, :, :3], rgba[::CHECK_STEP])["passed"]
    assert not rgb_check(rgba[:, :, 2::-1], rgba[::CHECK_STEP])["passed"], "red and blue swapped"
    frames = video_frames(25, 1, W, H, False)
    frames.reference()[...] = 0
    frames.buffer("BGRX")[...] = 0  # black, X 0: a real frame, not a copy of nothing
    assert frames.push("BGRX", "bt709", False)
    assert frames.fields()["vpdq_check"]["passed"]


def test_matroska_and_fragmented_frame_rates_are_ffmpegs():
    from localhash.frame_rate import av_reduce, fragmented_mov_frame_rate, matroska_frame_rate

    # PyAV's average_rate of ffmpeg-made WebMs at these rates (DefaultDuration 33366667, 41666667, 40000000 ns)
    assert matroska_frame_rate(33366667) == (30000, 1001)
    assert matroska_frame_rate(41666667) == (24, 1)
    assert matroska_frame_rate(40000000) == (25, 1)
    assert matroska_frame_rate(0, 29.97) == (2997, 100)  # FrameRate: 1e9 / 29.97 truncated to 33366700 ns
    assert matroska_frame_rate(0) == (0, 1)
    assert av_reduce(1_000_000_000, 33366667, 30000) == (30000, 1001)
    assert fragmented_mov_frame_rate(108, 89600, 15360) == (648, 35)  # PyAV's on tests/site's fragmented_vfr
    assert fragmented_mov_frame_rate(0, 0, 15360) == (0, 1)


@pytest.mark.parametrize("width, height", [(6, 5), (31, 9), (60, 64)])
def test_a_frame_under_64_px_is_checked_on_fewer_cells(width, height):
    """Under 64 px a side the sampled rows or columns are fewer than GRID: each is a cell of its own."""
    rng = np.random.default_rng(width)
    y = rng.integers(16, 236, (height, width), dtype=np.uint8)
    u = rng.integers(40, 90, ((height + 1) // 2, (width + 1) // 2), dtype=np.uint8)  # a strong colour: swaps show
    v = rng.integers(170, 220, u.shape, dtype=np.uint8)
    rgba = packed("RGBA", y, u, v).reshape(height, width, 4)
    drawn = rgba[::CHECK_STEP]
    assert plane_check(y, u, v, drawn, "smpte170m", False)["passed"]
    assert not plane_check(y, v, u, drawn, "smpte170m", False)["passed"], "U and V swapped"
    assert rgb_check(rgba[:, :, :3], drawn)["passed"]
    assert not rgb_check(rgba[:, :, 2::-1], drawn)["passed"], "red and blue swapped"
    frames = video_frames(25, 1, width, height, False)
    frames.reference()[...] = drawn
    frames.buffer("I420")[...] = packed("I420", y, u, v)
    assert frames.push("I420", "smpte170m", False)
    assert frames.fields()["vpdq_check"]["passed"]
