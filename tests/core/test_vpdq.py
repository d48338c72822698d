"""vPDQ (py/localhash/vpdq.py, yuv.py, video_native.py) against the references: Debian's libswscale for the
colour conversion, PyPI `vpdq` 0.2.5 for whole videos, Meta's own sample hashes for the C path."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import vpdq as meta_vpdq

from localhash.errors import CORRUPT_VIDEO, TOO_SMALL, LocalhashError
from localhash.hexbits import hamming_hex
from localhash.video_native import vpdq_of_file
from localhash.vpdq import VpdqFeature, VpdqHasher, frame_interval, vpdq_timestamp
from localhash.yuv import i420_to_rgb
from tests.conftest import CORPUS, require_corpus
from tests.swscale_ref import swscale_rgb24
from tests.video_samples import make_video_samples

VIDEOS = CORPUS / "vpdq" / "videos"
SAMPLE_HASHES = CORPUS / "vpdq" / "sample-hashes"


def corpus_videos() -> list:
    return sorted(VIDEOS.glob("*")) if VIDEOS.is_dir() else []


def meta_strings(path, seconds_per_hash: float = 1.0) -> list[str]:
    """PyPI vpdq's features in python-threatexchange's serialisation (VpdqCompactFeature.__str__)."""
    return [
        f"{f.hex},{f.quality},{f.timestamp:.3}"
        for f in meta_vpdq.computeHash(str(path), seconds_per_hash=seconds_per_hash)
    ]


def ours(path, seconds_per_hash: float = 1.0, swscale: str = "x86") -> list[str]:
    return [str(f) for f in vpdq_of_file(str(path), swscale, seconds_per_hash)]


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    return make_video_samples(tmp_path_factory.mktemp("videos"))


# --- YUV to RGB: pixel for pixel the system's libswscale, both flavours ---------------------------------------


@pytest.mark.parametrize("full_range", [False, True], ids=["limited", "full"])
@pytest.mark.parametrize("swscale", ["x86", "c"])
@pytest.mark.parametrize("size", [(16, 16), (10, 7), (6, 33), (64, 64), (120, 90), (2, 5)])
def test_conversion_is_libswscales(size, swscale, full_range):
    rows, cols = size
    rng = np.random.default_rng(rows * 1000 + cols)
    y = rng.integers(0, 256, (rows, cols), dtype=np.uint8)
    u, v = (rng.integers(0, 256, ((rows + 1) // 2, (cols + 1) // 2), dtype=np.uint8) for _ in range(2))
    reference = swscale_rgb24(y, u, v, full_range, simd=swscale == "x86")
    got = i420_to_rgb(y, u, v, full_range, swscale)
    written = cols - (cols & 1) if swscale == "c" else cols  # the C code never writes an odd width's last column
    np.testing.assert_array_equal(got[:, :written], reference[:, :written])


def test_conversion_in_strips_is_the_whole_frame():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 256, (40, 30), dtype=np.uint8)
    u, v = (rng.integers(0, 256, (20, 15), dtype=np.uint8) for _ in range(2))
    whole = i420_to_rgb(y, u, v)
    strips = np.concatenate([i420_to_rgb(y[top : top + 6], u, v, first_row=top) for top in range(0, 40, 6)])
    np.testing.assert_array_equal(strips, whole)


def test_the_two_flavours_differ():
    """So that the parity tests below can tell them apart."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 256, (32, 32), dtype=np.uint8)
    u, v = (rng.integers(0, 256, (16, 16), dtype=np.uint8) for _ in range(2))
    assert (i420_to_rgb(y, u, v, swscale="x86") != i420_to_rgb(y, u, v, swscale="c")).any()


# --- frame selection and serialisation -------------------------------------------------------------------------


def test_frame_selection_and_timestamps_are_vpdqs():
    assert frame_interval(30000 / 1001) == 29 and frame_interval(25.0) == 25 and frame_interval(0.5) == 1
    assert frame_interval(30.0, seconds_per_hash=0) == 1
    # float32 division, then python-threatexchange's ".3" format (three significant digits)
    assert str(VpdqFeature("0" * 64, 100, 3451, vpdq_timestamp(3451, 30000 / 1001))) == "0" * 64 + ",100,1.15e+02"
    assert vpdq_timestamp(29, 30000 / 1001) == float(np.float32(29) / np.float32(30000 / 1001))


def test_frames_are_fed_one_at_a_time_and_only_kept_ones_hashed():
    hasher = VpdqHasher((5, 1), 16, 16)
    frame = np.zeros((16, 16), np.uint8), np.full((8, 8), 128, np.uint8), np.full((8, 8), 128, np.uint8)
    kept = [hasher.push(*frame) is not None for _ in range(12)]
    assert kept == [n % 5 == 0 for n in range(12)]
    assert [f.frame_number for f in hasher.features] == [0, 5, 10]
    assert [f.timestamp for f in hasher.features] == [0.0, 1.0, 2.0]


def test_a_frame_below_five_pixels_is_too_small():
    with pytest.raises(LocalhashError) as caught:
        VpdqHasher(25, 4, 100)
    assert caught.value.code == TOO_SMALL


# --- whole videos against PyPI vpdq ------------------------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize("video", corpus_videos(), ids=lambda p: p.name)
def test_corpus_video_is_vpdqs_frame_for_frame(video):
    require_corpus()
    assert ours(video) == meta_strings(video)


@pytest.mark.corpus
def test_corpus_is_present():
    require_corpus()
    assert len(corpus_videos()) >= 8, VIDEOS


@pytest.mark.corpus
def test_every_frame_of_a_corpus_video_is_vpdqs():
    """seconds_per_hash 0 hashes every decoded frame: 206 frames, each identical."""
    video = require_corpus() / "vpdq" / "videos" / "pattern-sd-grey-bar.mp4"
    expected = meta_strings(video, 0)
    assert len(expected) == 206
    assert ours(video, 0) == expected


@pytest.mark.parametrize(
    "name",
    [
        "ntsc_29.97fps",
        "vp9_webm",
        "odd_width_vp9",
        "full_range_yuvj420p",
        "bt709_tagged",
        "vfr",
        "av1",
        "long_gop_3fps",
        "edit_list",
        "rotated_90",
    ],
)
def test_generated_video_is_vpdqs_at_every_frame(samples, name):
    expected = meta_strings(samples[name], 0)
    assert len(expected) >= 10
    assert ours(samples[name], 0) == expected
    assert ours(samples[name]) == meta_strings(samples[name])


def test_odd_height_is_near_vpdq_not_exact(samples):
    """An odd height takes swscale's scaling path (chroma interpolated), which yuv.py does not reproduce:
    the unscaled formula's hashes stay within a few bits, far inside the match threshold."""
    expected = [s.split(",") for s in meta_strings(samples["odd_height_vp9"], 0)]
    got = [s.split(",") for s in ours(samples["odd_height_vp9"], 0)]
    assert len(got) == len(expected)
    distances = [hamming_hex(a[0], b[0]) for a, b in zip(got, expected, strict=True)]
    assert max(distances) <= 12, distances
    assert [a[2] for a in got] == [b[2] for b in expected]


# --- Meta's sample hashes: the C path ----------------------------------------------------------------------------


def read_sample_hashes(name: str) -> list[tuple[int, int, str, str]]:
    """ThreatExchange vpdq/sample-hashes: "frame,quality,hash,timestamp" a line, every frame."""
    lines = (SAMPLE_HASHES / f"{name}.txt").read_text().split()
    return [(int(n), int(q), h, t) for n, q, h, t in (line.split(",") for line in lines)]


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["pattern-sd-grey-bar", "pattern-sd-with-small-logo-bar"])
def test_c_path_is_metas_sample_hashes(name):
    require_corpus()
    sample = read_sample_hashes(name)
    features = vpdq_of_file(str(VIDEOS / f"{name}.mp4"), "c", 0)
    assert [(f.frame_number, f.quality, f.hash, f"{f.timestamp:.3f}") for f in features] == sample
    x86 = vpdq_of_file(str(VIDEOS / f"{name}.mp4"), "x86", 0)
    assert any(a.hash != b[2] for a, b in zip(x86, sample, strict=True))  # they are the C flavour's


# --- bad input and memory ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_corrupt_video_is_a_typed_error(samples, tmp_path, damage):
    data = samples["ntsc_29.97fps"].read_bytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(data[: len(data) // 3] if damage == "truncated" else data[:32] + bytes(range(256)) * 64)
    with pytest.raises(LocalhashError) as caught:
        vpdq_of_file(str(bad))
    assert caught.value.code == CORRUPT_VIDEO


def test_memory_stays_flat_with_length(samples):
    """The hasher holds one frame's floats, whatever the video's length: the peak for 8 s is the peak for 3 s."""
    peaks = []
    for name in ("av1", "long_gop_3fps"):
        tracemalloc.start()
        vpdq_of_file(str(samples[name]), seconds_per_hash=0)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.5 * peaks[0] + (1 << 20), peaks
