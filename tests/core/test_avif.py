"""AVIF natively (pillow-avif-plugin, the optional extra): hashes equal to the references on the plugin's own
decode turned as its rotation and mirror say; the boxes the browser reads (isobmff.py) saying what the plugin
says; and the browser's job (browser.AvifJob): the page's pixels hashed when they pass the check against
libavif's, libavif's hashed instead when they do not, typed errors before any pixel for damaged or oversized
files."""

from __future__ import annotations

import io

import imagehash
import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageOps

from localhash import browser, decode, hash_bytes
from localhash.errors import CORRUPT_IMAGE, TOO_LARGE, UNSUPPORTED_FORMAT
from localhash.isobmff import read_picture_boxes
from localhash.pixelcheck import block_means
from tests.avif_samples import avif_bytes

from .test_pdq_conformance import threatexchange_hex


def shown(path) -> Image.Image:
    """The plugin's decode turned as people see it (the plugin reports irot/imir as the EXIF orientation)."""
    return ImageOps.exif_transpose(Image.open(path))


def stored_rgba(path) -> np.ndarray:
    """What libavif decodes, as stored: the reference the worker hands AvifJob."""
    return np.asarray(Image.open(path).convert("RGBA"))


def test_every_sample_hashes_as_the_references_hash_the_plugins_decode(avif_samples):
    for sample in avif_samples:
        record = hash_bytes(sample.path.read_bytes(), dihedral=True)
        assert record["ok"], (sample.path.name, record)
        picture = shown(sample.path).convert("RGB")
        vector, quality = pdqhash.compute(np.asarray(picture))
        assert (record["format"], record["width"], record["height"]) == ("AVIF", *picture.size)
        assert record["frames"] == sample.frames
        assert (record["pdq"], record["pdq_quality"]) == (threatexchange_hex(vector), quality), sample.path.name
        assert record["phash"] == str(imagehash.phash(picture))
        assert record["dhash"] == str(imagehash.dhash(picture))
        assert record["ahash"] == str(imagehash.average_hash(picture))
        assert "pdq_oriented" not in record  # the pixels are already turned, as browsers turn them


def test_the_boxes_say_what_the_plugin_says(avif_samples):
    for sample in avif_samples:
        boxes = read_picture_boxes(sample.path.read_bytes())
        picture = Image.open(sample.path)
        assert (boxes.width, boxes.height) == picture.size
        assert boxes.orientation == picture.getexif().get(0x0112, 1) == sample.orientation
        assert boxes.frames == picture.n_frames == sample.frames
        assert boxes.shown_size == shown(sample.path).size


def test_every_rotation_and_mirror_is_read_as_the_plugin_reads_it():
    picture = Image.fromarray(np.random.default_rng(3).integers(0, 256, (40, 64, 3), dtype=np.uint8))
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        data = avif_bytes(picture, exif=exif.tobytes())
        assert read_picture_boxes(data).orientation == orientation
        assert Image.open(io.BytesIO(data)).getexif().get(0x0112, 1) == orientation


def test_block_means_are_the_8x8_means():
    pixels = np.random.default_rng(5).integers(0, 256, (37, 50, 4), dtype=np.uint8)
    means = np.asarray(block_means(pixels))
    assert means.shape == (5, 7, 3)
    expected = pixels[:32, :48, :3].reshape(4, 8, 6, 8, 3).mean(axis=(1, 3))
    assert np.abs(means[:4, :6] - expected).max() <= 0.5
    assert not means[4].any() and not means[:, 6].any()  # partial edge blocks are never compared


def _job(sample, pixels: np.ndarray | None = None, **options) -> browser.AvifJob:
    data = sample.path.read_bytes()
    job = browser.AvifJob(data, **options)
    assert job.error is None
    reference = stored_rgba(sample.path)
    job.reference(reference.shape[1], reference.shape[0])[...] = reference
    job.reference_done()
    return job


def _browser_record(job: browser.AvifJob, pixels: np.ndarray) -> dict:
    assert job.begin(pixels.shape[1], pixels.shape[0])
    while (top := job.next_strip()) >= 0:
        job.strip[...] = pixels[top : top + len(job.strip)]
    return job.record()


@pytest.mark.parametrize("mode", ["full", "reference-cli"])
def test_the_browsers_pixels_that_pass_the_check_give_the_native_record(avif_samples, mode):
    for sample in avif_samples:
        data = sample.path.read_bytes()
        assert browser.decoder_for(data) == "avif"
        pixels = np.asarray(shown(sample.path).convert("RGBA"))
        job = _job(sample, dihedral=True, mode=mode, strip_pixels=pixels.shape[1] * 40)
        record = _browser_record(job, pixels)
        assert record.pop("decoded_by") == "browser", (sample.path.name, record.get("pixel_check"))
        assert record.pop("pixel_check")["passed"]
        assert record == hash_bytes(data, dihedral=True, mode=mode), sample.path.name


def test_pixels_that_fail_the_check_give_libavifs_record_saying_why(avif_samples):
    sample = next(s for s in avif_samples if s.path.name == "orientation-5.avif")
    data = sample.path.read_bytes()
    native = hash_bytes(data)
    right = np.asarray(shown(sample.path).convert("RGBA"))
    wrongly_turned = np.ascontiguousarray(np.asarray(Image.open(sample.path).convert("RGBA")).transpose(1, 0, 2)[::-1])
    faults = {
        ("channels_swapped",): np.ascontiguousarray(right[..., [2, 1, 0, 3]]),
        ("pixels_differ",): wrongly_turned,  # orientation 6's turn, the same size as 5's
        ("pixels_differ", "pixels_shifted"): np.ascontiguousarray(np.roll(right, 1, axis=1)),
    }
    for codes, pixels in faults.items():
        record = _browser_record(_job(sample), pixels)
        assert record.pop("decoded_by") == "libavif"
        check = record.pop("pixel_check")
        assert not check["passed"] and check["code"] in codes, check
        assert record == native


def test_without_the_browsers_pixels_libavifs_are_hashed(avif_samples):
    sample = next(s for s in avif_samples if s.path.name == "orientation-6.avif")
    job = _job(sample)
    stored = stored_rgba(sample.path)  # a browser that did not turn it (WebKitGTK): another size
    assert not job.begin(stored.shape[1], stored.shape[0])
    record = job.record_without_pixels("wrong_size", "the browser decoded the picture at another size")
    assert record.pop("decoded_by") == "libavif"
    assert record.pop("pixel_check") == {
        "passed": False,
        "luma_error": -1.0,
        "colour_error": -1.0,
        "code": "wrong_size",
        "message": "the browser decoded the picture at another size",
    }
    assert record == hash_bytes(sample.path.read_bytes())


def test_a_reference_of_another_size_is_refused(avif_samples):
    job = browser.AvifJob(avif_samples[0].path.read_bytes())
    assert job.reference(job.boxes.width + 1, job.boxes.height) is None


def _with_size(data: bytes, width: int, height: int) -> bytes:
    at = data.index(b"ispe") + 8  # after the type, version and flags
    return data[:at] + width.to_bytes(4, "big") + height.to_bytes(4, "big") + data[at + 8 :]


@pytest.mark.parametrize(
    ("damage", "code"),
    [
        pytest.param(lambda data: data[:40], CORRUPT_IMAGE, id="boxes_missing"),
        pytest.param(lambda data: data[: data.index(b"ipma") + 6], CORRUPT_IMAGE, id="cut_in_the_associations"),
        pytest.param(lambda data: _with_size(data, 20_000, 20_000), TOO_LARGE, id="claims_400_MP"),
        pytest.param(lambda data: _with_size(data, 4, 3000), "too_small", id="claims_4_px_wide"),
    ],
)
def test_a_damaged_or_oversized_avif_is_refused_before_any_pixel(damage, code):
    noise = np.random.default_rng(11).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    job = browser.AvifJob(damage(avif_bytes(Image.fromarray(noise))))
    assert job.error["error"]["code"] == code
    if code == CORRUPT_IMAGE:
        assert hash_bytes(damage(avif_bytes(Image.fromarray(noise))))["error"]["code"] == CORRUPT_IMAGE


def test_an_avif_without_its_boxes_is_corrupt_image_natively_and_in_the_browsers_job():
    data = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1" + b"\x00" * 200
    assert hash_bytes(data)["error"]["code"] == CORRUPT_IMAGE
    assert browser.AvifJob(data).error["error"]["code"] == CORRUPT_IMAGE


def test_an_avif_libavif_cannot_decode_is_corrupt_image():
    record = browser.avif_not_decoded(b"\x00\x00\x00\x1cftypavif", "Decoding error")
    assert record["error"]["code"] == CORRUPT_IMAGE and "Decoding error" in record["error"]["message"]
    assert browser.avif_not_decoded(b"", "x")["error"]["code"] == "empty_file"


def test_without_the_extra_an_avif_says_how_to_get_it(monkeypatch, avif_samples):
    monkeypatch.setattr(decode, "ALLOWED_FORMATS", tuple(f for f in decode.ALLOWED_FORMATS if f != "AVIF"))
    record = hash_bytes(avif_samples[0].path.read_bytes())
    assert record["error"]["code"] == UNSUPPORTED_FORMAT
    assert "localhash[avif]" in record["error"]["message"]
