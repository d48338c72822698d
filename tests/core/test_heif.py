"""HEIC/HEIF natively (pillow-heif, the optional extra): hashes equal to the references on pillow-heif's
own decode, the primary image of a burst, HEIF's rotation, typed errors, and the record the browser
builds from libheif's pixels (record.decoded_elsewhere_record) equal to the native one for equal pixels."""

from __future__ import annotations

import imagehash
import numpy as np
import pdqhash
import pillow_heif
import pytest
from PIL import Image

from localhash import decode, hash_bytes
from localhash.decode import picture_container
from localhash.errors import CORRUPT_IMAGE, UNSUPPORTED_FORMAT
from localhash.record import decoded_elsewhere_record
from tests.conftest import require_corpus
from tests.heif_samples import heif_bytes

from .test_pdq_conformance import threatexchange_hex

pillow_heif.register_heif_opener()


@pytest.fixture(scope="module")
def samples(heif_samples):
    return heif_samples


def reference_pdq(pixels: np.ndarray) -> tuple[str, int]:
    """pdqhash's bits spelt as python-threatexchange spells them (tests/core/test_pdq_conformance.py)."""
    vector, quality = pdqhash.compute(pixels)
    return threatexchange_hex(vector), quality


def test_every_sample_hashes_as_the_references_hash_pillow_heifs_decode(samples):
    for sample in samples:
        record = hash_bytes(sample.path.read_bytes(), dihedral=True)
        assert record["ok"], (sample.path.name, record)
        picture = Image.open(sample.path)
        pixels = np.asarray(picture.convert("RGB"))
        assert (record["format"], record["width"], record["height"]) == ("HEIF", *picture.size)
        assert record["frames"] == sample.images
        assert (record["pdq"], record["pdq_quality"]) == reference_pdq(pixels), sample.path.name
        grey = picture.convert("RGB")
        assert record["phash"] == str(imagehash.phash(grey))
        assert record["dhash"] == str(imagehash.dhash(grey))
        assert record["ahash"] == str(imagehash.average_hash(grey))
        assert "pdq_oriented" not in record  # libheif has already turned the picture


def test_a_burst_is_hashed_by_its_primary_image(samples):
    burst = next(s for s in samples if s.images > 1)
    heif = pillow_heif.open_heif(burst.path)
    assert heif.primary_index == burst.primary == 1
    primary = np.asarray(heif[burst.primary].to_pillow().convert("RGB"))
    first = np.asarray(heif[0].to_pillow().convert("RGB"))
    record = hash_bytes(burst.path.read_bytes())
    assert record["pdq"] == reference_pdq(primary)[0] != reference_pdq(first)[0]
    assert record["frames"] == 3


def test_heifs_rotation_is_applied_and_no_exif_orientation_is_applied_again(samples):
    rotated = next(s for s in samples if s.path.name == "rotated.heic")
    upright = Image.open(require_corpus() / "pdq" / "images" / rotated.source)
    record = hash_bytes(rotated.path.read_bytes())
    assert (record["width"], record["height"]) == (upright.height, upright.width)
    assert "pdq_oriented" not in record


def test_the_container_is_named_by_its_brands():
    assert picture_container(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic") == "HEIF"
    assert picture_container(b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1miafavif") == "AVIF"
    assert picture_container(b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isomavc1") is None
    # The major brand decides, as pillow-heif does: a sequence, or another major brand, is no HEIF picture.
    assert picture_container(b"\x00\x00\x00\x18ftypmsf1\x00\x00\x00\x00msf1hevc") is None
    assert picture_container(b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x00heicmif1") is None
    assert picture_container(b"\x00\x00\x00\x10ftyphei") is None  # cut short
    assert picture_container(b"\xff\xd8\xff\xe0") is None


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda data: data[:40], id="boxes_missing"),
        pytest.param(lambda data: data[: len(data) // 2], id="half_the_file"),
        pytest.param(lambda data: data[:-2000], id="end_missing"),
    ],
)
def test_a_damaged_heif_is_corrupt_image(cut):
    noise = np.random.default_rng(11).integers(0, 256, (192, 256, 3), dtype=np.uint8)
    data = heif_bytes(Image.fromarray(noise), quality=90)
    assert len(data) > 8000
    data = cut(data)
    assert hash_bytes(data)["error"]["code"] == CORRUPT_IMAGE


def test_without_the_extra_a_heif_says_how_to_get_it(monkeypatch, samples):
    monkeypatch.setattr(decode, "ALLOWED_FORMATS", tuple(f for f in decode.ALLOWED_FORMATS if f != "HEIF"))
    record = hash_bytes(samples[0].path.read_bytes())
    assert record["error"]["code"] == UNSUPPORTED_FORMAT
    assert "localhash[heif]" in record["error"]["message"]


def test_the_browsers_record_from_libheifs_pixels_is_the_native_record(samples):
    """The page hands over libheif's RGBA; given the pixels pillow-heif decodes, the record is the same."""
    for sample in samples:
        data = sample.path.read_bytes()
        rgba = np.ascontiguousarray(np.asarray(Image.open(sample.path).convert("RGBA")))
        for dihedral in (False, True):
            native = hash_bytes(data, dihedral=dihedral)
            elsewhere = decoded_elsewhere_record(
                data, rgba, format="HEIF", frames=sample.images, decoded_by="libheif", dihedral=dihedral
            )
            assert elsewhere.pop("decoded_by") == "libheif"
            assert elsewhere == native, sample.path.name


def test_the_worker_entry_sends_heif_to_libheif_and_hashes_its_pixels(samples):
    from localhash import browser

    for sample in samples[:3]:
        data = sample.path.read_bytes()
        assert browser.decoder_for(data) == "libheif"
        picture = Image.open(sample.path)
        job = browser.HeifJob(data, *picture.size, sample.images, True, "full")
        assert job.error is None
        job.buffer()[...] = np.asarray(picture.convert("RGBA"))
        record = job.record()
        assert record.pop("decoded_by") == "libheif"
        assert record == hash_bytes(data, dihedral=True)


@pytest.mark.parametrize(("size", "code"), [((20_000, 20_000), "too_large"), ((4, 3000), "too_small")])
def test_a_heif_whose_size_cannot_be_hashed_is_refused_before_any_pixel(size, code):
    from localhash import browser

    job = browser.HeifJob(b"\x00\x00\x00\x18ftypheic", *size, 1)
    assert job.error["error"]["code"] == code


def test_a_heif_libheif_cannot_read_is_corrupt_image():
    from localhash import browser

    record = browser.heif_not_decoded(b"\x00\x00\x00\x18ftypheic\x00\x00", "Invalid input: No 'meta' box")
    assert record["error"]["code"] == CORRUPT_IMAGE and "meta" in record["error"]["message"]
    record = browser.heif_not_decoded(b"\x00\x00\x00\x18ftypheic", "Unsupported feature: Unsupported codec", True)
    assert record["error"]["code"] == UNSUPPORTED_FORMAT and "codec" in record["error"]["message"]
    assert browser.heif_not_decoded(b"", "")["error"]["code"] == "empty_file"


def test_the_browser_tolerance_catches_a_record_beyond_it(samples):
    """The parity check the browser tests use (tests/heif_samples.py) can fail: too many bits, another
    size, another decoder."""
    from tests.heif_samples import PHONE, STRONG, TOLERANCE_BITS, heif_differences

    native = hash_bytes(samples[0].path.read_bytes())
    same = {**native, "decoded_by": "libheif"}
    assert heif_differences(same, native) == {}
    for quality in (STRONG, PHONE):
        flipped = int(native["pdq"], 16) ^ ((1 << (TOLERANCE_BITS[quality]["pdq"] + 1)) - 1)
        assert "pdq" in heif_differences({**same, "pdq": f"{flipped:064x}"}, native, quality)
    one_bit = int(native["pdq"], 16) ^ 1
    assert "pdq" in heif_differences({**same, "pdq": f"{one_bit:064x}"}, native, PHONE)
    assert "width" in heif_differences({**same, "width": native["width"] + 1}, native)
    assert "decoded_by" in heif_differences(native, native)
