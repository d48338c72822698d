"""vPDQ (py/localhash/vpdq.py, yuv.py, video_native.py) against the references: Debian's libswscale for the
colour conversion, PyPI `vpdq` 0.2.5 for whole videos, Meta's own sample hashes for the C path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import vpdq as meta_vpdq

from localhash.errors import CORRUPT_VIDEO, TOO_SMALL, LocalhashError
from localhash.hexbits import hamming_hex
from localhash.pdq import luma_like_reference_cli, luma_of_channels
from localhash.video_native import vpdq_of_file
from localhash.vpdq import VpdqFeature, VpdqHasher, frame_interval, vpdq_timestamp
from localhash.yuv import i420_to_rgb, x86_channels
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


# Which swscale made Meta's sample hashes (vpdq/sample-hashes): measured at every frame, each file is identical to
# one flavour (2,122 of 2,122 frames with "c", 150 of 150 with "x86") and 0.3-21 bits (mean) from the other.
SAMPLE_FLAVOURS = {
    "chair-19-sd-bar": "c",
    "chair-20-sd-bar": "c",
    "doorknob-hd-no-bar": "c",
    "pattern-hd-no-bar": "c",
    "pattern-sd-grey-bar": "c",
    "pattern-sd-with-large-logo-bar": "c",
    "pattern-sd-with-small-logo-bar": "c",
    "test-padded-dimensions": "x86",
}


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(SAMPLE_FLAVOURS))
def test_metas_sample_hashes_are_one_flavour(name):
    """At one frame per second (the sample files hold every frame: the kept ones are compared)."""
    require_corpus()
    sample = {n: (n, q, h, t) for n, q, h, t in read_sample_hashes(name)}
    features = vpdq_of_file(str(VIDEOS / f"{name}.mp4"), SAMPLE_FLAVOURS[name])
    assert [(f.frame_number, f.quality, f.hash, f"{f.timestamp:.3f}") for f in features] == [
        sample[f.frame_number] for f in features
    ]


@pytest.mark.corpus
def test_c_path_is_metas_sample_hashes_at_every_frame():
    require_corpus()
    sample = read_sample_hashes("pattern-sd-grey-bar")
    features = vpdq_of_file(str(VIDEOS / "pattern-sd-grey-bar.mp4"), "c", 0)
    assert [(f.frame_number, f.quality, f.hash, f"{f.timestamp:.3f}") for f in features] == sample
    x86 = vpdq_of_file(str(VIDEOS / "pattern-sd-grey-bar.mp4"), "x86", 0)
    assert any(a.hash != b[2] for a, b in zip(x86, sample, strict=True))  # the flavour matters


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


# --- matching: Meta's matcher, and the CLI ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_vpdq() -> dict[str, list[str]]:
    require_corpus()
    return {video.stem: meta_strings(video) for video in corpus_videos()}


def _edited(strings: list[str], flip_bits: int, quality: int | None = None) -> list[str]:
    """The same frames with `flip_bits` low bits of each hash flipped (and another quality)."""
    out = []
    for s in strings:
        hex_, q, t = s.split(",")
        out.append(f"{int(hex_, 16) ^ ((1 << flip_bits) - 1):064x},{q if quality is None else quality},{t}")
    return out


@pytest.mark.corpus
def test_matcher_is_threatexchanges(corpus_vpdq):
    from threatexchange.extensions.vpdq.vpdq import VPDQSignal
    from threatexchange.extensions.vpdq.vpdq_brute_matcher import match_VPDQ_hash_brute
    from threatexchange.extensions.vpdq.vpdq_util import json_to_vpdq

    from localhash.vpdq_match import match_vpdq, parse_vpdq

    videos = list(corpus_vpdq.values())
    first = videos[0]
    half = first[: len(first) // 2]
    cases = [(a, b) for a in videos for b in videos]
    cases += [
        (first, _edited(first, 31)),  # every frame exactly at the threshold
        (first, _edited(first, 32)),  # just past it
        (first, _edited(first, 3, quality=49)),  # near, but too low a quality
        (half, first),
        (first, half),  # 50% of the query: no match
        (first + first[:3], first[::-1]),  # repeated frames count once
    ]
    verdicts = set()
    for a, b in cases:
        ja, jb = json.dumps(a), json.dumps(b)
        mine = match_vpdq(parse_vpdq(ja), parse_vpdq(jb))
        try:
            theirs = match_VPDQ_hash_brute(json_to_vpdq(ja), json_to_vpdq(jb), 50, 31)
        except ZeroDivisionError:  # no frame of quality 50 on one side: theirs divides by zero, ours says 0%
            assert (mine.query_match_percent, mine.compared_match_percent, mine.is_match()) == (0.0, 0.0, False)
            continue
        assert (mine.query_match_percent, mine.compared_match_percent) == pytest.approx(
            (theirs.query_match_percent, theirs.compared_match_percent)
        )
        assert mine.is_match() == VPDQSignal.compare_hash(ja, jb).match
        verdicts.add(mine.is_match())
    assert verdicts == {True, False}


@pytest.mark.parametrize(
    "bad",
    ["[1]", '["abc,100,0.0"]', '["' + "0" * 64 + ',101,0.0"]', '["' + "0" * 64 + ',50,-1"]', '{"a": 1}', "[", "[]x"],
)
def test_a_bad_vpdq_is_invalid_hash(bad):
    from localhash.errors import INVALID_HASH
    from localhash.vpdq_match import parse_vpdq

    with pytest.raises(LocalhashError) as caught:
        parse_vpdq(bad)
    assert caught.value.code == INVALID_HASH


def run_cli(*argv: str) -> tuple[int, list[dict]]:
    out = subprocess.run(
        [sys.executable, "-m", "localhash", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": "py"},
    )
    assert not out.stderr, out.stderr
    return out.returncode, [json.loads(line) for line in out.stdout.splitlines()]


@pytest.mark.corpus
def test_cli_hash_adds_vpdq_and_match_finds_the_video(corpus_vpdq, samples, tmp_path):
    video = VIDEOS / "pattern-sd-grey-bar.mp4"
    status, [record] = run_cli("hash", str(video))
    assert status == 0 and record["media"] == "video" and record["md5"]
    assert record["vpdq"] == corpus_vpdq["pattern-sd-grey-bar"]

    status, [record_c] = run_cli("hash", "--swscale", "c", str(video))
    assert status == 0 and len(record_c["vpdq"]) == len(record["vpdq"])

    bank = tmp_path / "bank.txt"
    others = [json.dumps(v) for k, v in corpus_vpdq.items() if k != "pattern-sd-grey-bar"]
    bank.write_text("# videos\n" + "\n".join([*others, json.dumps(record_c["vpdq"])]) + "\n" + "0" * 64 + "\n")
    status, [found] = run_cli("match", "--bank", str(bank), str(video))
    assert status == 0 and found["vpdq_frames"] == len(record["vpdq"])
    c_path_copy = {"line": len(others) + 2, "query_match_percent": 100.0, "compared_match_percent": 100.0}
    assert c_path_copy in found["matches"]
    chairs = {i + 2 for i, name in enumerate(k for k in corpus_vpdq if k != "pattern-sd-grey-bar") if "chair" in name}
    assert chairs and not chairs & {m["line"] for m in found["matches"]}

    saved = tmp_path / "record.json"
    saved.write_text(json.dumps(record))
    status, [compared] = run_cli("compare", str(saved), json.dumps(record_c["vpdq"]))
    assert status == 0 and compared == {"query_match_percent": 100.0, "compared_match_percent": 100.0, "match": True}
    status, [compared] = run_cli("compare", json.dumps(record["vpdq"]), json.dumps(corpus_vpdq["chair-19-sd-bar"]))
    assert compared["match"] is False


def test_cli_corrupt_video_is_one_typed_record(samples, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(samples["ntsc_29.97fps"].read_bytes()[:5000])
    status, records = run_cli("hash", str(bad), str(samples["vp9_webm"]))
    assert status == 1
    assert records[0] == {"file": str(bad), "ok": False, "error": records[0]["error"]}
    assert records[0]["error"]["code"] == CORRUPT_VIDEO
    assert records[1]["ok"] and len(records[1]["vpdq"]) == 4


def test_cli_compare_refuses_a_bad_vpdq():
    status, [record] = run_cli("compare", '["nope"]', "[]")
    assert status == 2 and record["error"]["code"] == "invalid_hash"


@pytest.mark.parametrize("full_range", [False, True])
def test_luma_a_channel_at_a_time_is_the_luma_of_the_rgb(full_range):
    # x86_channels + luma_of_channels (the browser's and PyAV's path) against i420_to_rgb + PDQ's C++ luma, float
    # for float, on every sample value and strips starting at any even row
    rng = np.random.default_rng(7)
    y = rng.integers(0, 256, (96, 130), dtype=np.uint8)
    u, v = (rng.integers(0, 256, (48, 65), dtype=np.uint8) for _ in range(2))
    y[:2, :128] = np.arange(256, dtype=np.uint8).reshape(2, 128)  # every value
    u[0, :64], v[1, :64] = np.arange(0, 256, 4), np.arange(1, 256, 4)
    for top, rows in [(0, 96), (0, 2), (10, 34), (94, 2)]:
        strip = y[top : top + rows]
        want = luma_like_reference_cli(i420_to_rgb(strip, u, v, full_range, "x86", first_row=top))
        got = luma_of_channels(x86_channels(strip, u, v, full_range, top))
        assert got.dtype == np.float32 and np.array_equal(got.view(np.uint32), want.view(np.uint32)), top
