"""A browser whose JPEG or AVIF decoder or pixel copy goes wrong: the page's own path, with createImageBitmap
replaced by a faulty one. Each fault is caught in the worker and the record is Pillow's (a JPEG) or libavif's
(an AVIF), saying why."""

from __future__ import annotations

import base64

import pytest

from localhash import hash_bytes
from tests.avif_samples import beyond_tolerance
from tests.conftest import PDQ_IMAGES, require_corpus
from tests.heif_samples import bits_apart
from tests.site.conftest import hash_in_page

FILE = PDQ_IMAGES / "bridge-mods/blur-a-little.jpg"
OTHER = PDQ_IMAGES / "reg-test-input/labelme-subset/q1050.jpg"

# Each fault draws the real decode onto a canvas, spoils it, and hands back a bitmap of that canvas, as a
# broken engine would: it resolves, with the right size and the wrong pixels.
FAULTY_DECODER = """async ([fault, otherB64]) => {
  const original = window.createImageBitmap.bind(window);
  const other = await original(new Blob([Uint8Array.from(atob(otherB64), (c) => c.charCodeAt(0))]));
  window.createImageBitmap = async (source, options) => {
    if (fault === "cannot decode") throw new DOMException("The source image could not be decoded.", "EncodingError");
    const bitmap = await original(source, options);
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext("2d");
    if (fault === "all zero") {
      // an engine that writes nothing: transparent black
    } else if (fault === "moved right") {
      context.drawImage(bitmap, 1, 0);
      context.drawImage(bitmap, 0, 0, 1, bitmap.height, 0, 0, 1, bitmap.height);
    } else if (fault === "a different picture") {
      context.drawImage(other, 0, 0, bitmap.width, bitmap.height);
    } else {
      context.drawImage(bitmap, 0, 0);
      const image = context.getImageData(0, 0, bitmap.width, bitmap.height);
      const d = image.data;
      for (let i = 0; i < d.length; i += 4) {
        if (fault === "BGRA") [d[i], d[i + 2]] = [d[i + 2], d[i]];
        else if (fault === "brightness +8") for (let c = 0; c < 3; c++) d[i + c] = Math.min(255, d[i + c] + 8);
      }
      context.putImageData(image, 0, 0);
    }
    bitmap.close();
    return original(canvas);
  };
}"""

FAULTS = {
    "all zero": {"pixels_differ"},
    "BGRA": {"channels_swapped"},
    "brightness +8": {"pixels_differ"},
    "moved right": {"pixels_shifted", "pixels_differ"},
    "a different picture": {"pixels_differ", "channels_swapped"},
}


@pytest.fixture(scope="module")
def pillow_record(browser, site):
    """The record of FILE when Pillow inside Pyodide decodes it: what every caught fault must give."""
    require_corpus()
    context = browser.new_context()
    page = context.new_page()
    page.goto(site.url)
    page.evaluate("window.localhash.ready")
    record = hash_in_page(page, FILE.read_bytes(), decoder="pillow")
    context.close()
    assert record["ok"] and "decoded_by" not in record
    return record


def hash_with_fault(browser, site, fault: str, data: bytes) -> tuple[dict, list[str]]:
    """The record of `data` from a fresh page whose createImageBitmap has `fault`, and the page's errors."""
    context = browser.new_context()
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(site.url)
    page.evaluate(FAULTY_DECODER, [fault, base64.b64encode(OTHER.read_bytes()).decode()])
    page.evaluate("window.localhash.ready")
    record = hash_in_page(page, data)
    context.close()
    return record, errors


@pytest.mark.parametrize("fault", FAULTS)
def test_a_faulty_browser_decoder_is_caught_and_pillows_record_is_given(browser, site, pillow_record, fault):
    record, errors = hash_with_fault(browser, site, fault, FILE.read_bytes())
    assert record["decoded_by"] == "pillow", record.get("pixel_check")
    assert record["pixel_check"]["code"] in FAULTS[fault], record["pixel_check"]
    assert {k: v for k, v in record.items() if k not in ("decoded_by", "pixel_check")} == pillow_record
    assert errors == []


def test_the_untouched_decoder_passes(browser, site, pillow_record):
    """The same file without a fault: the browser's pixels are hashed."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(site.url)
    page.evaluate("window.localhash.ready")
    record = hash_in_page(page, FILE.read_bytes())
    context.close()
    assert record["decoded_by"] == "browser" and record["pixel_check"]["passed"]
    assert record["md5"] == pillow_record["md5"]


# An AVIF's faults, and a browser that cannot decode AVIF at all (Safari before 16, say).
AVIF_FAULTS = {**FAULTS, "cannot decode": {"not_decoded"}}


@pytest.mark.parametrize("fault", AVIF_FAULTS)
def test_a_faulty_browser_avif_decoder_is_caught_and_libavifs_record_is_given(browser, site, avif_samples, fault):
    sample = next(s for s in avif_samples if s.path.name == "0-RGB-q90.avif")
    record, errors = hash_with_fault(browser, site, fault, sample.path.read_bytes())
    assert record.pop("decoded_by") == "libavif", record.get("pixel_check")
    assert record.pop("pixel_check")["code"] in AVIF_FAULTS[fault]
    native = hash_bytes(sample.path.read_bytes())
    apart = {key: bits_apart(record.pop(key), native.pop(key)) for key in ("pdq", "phash", "dhash", "ahash")}
    print(fault, apart)
    assert record == native
    assert errors == []


def test_libavifs_pixels_hashed_instead_are_within_the_measured_tolerance(browser, site, avif_samples):
    """Every AVIF sample with red and blue swapped by the browser: libavif's record, as near native as measured
    (tests/avif_samples.py); a greyscale picture swaps to itself and stays the browser's."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(site.url)
    page.evaluate(FAULTY_DECODER, ["BGRA", base64.b64encode(OTHER.read_bytes()).decode()])
    page.evaluate("window.localhash.ready")
    for sample in avif_samples:
        record = hash_in_page(page, sample.path.read_bytes())
        native = hash_bytes(sample.path.read_bytes())
        grey = sample.path.name.startswith("3-L")
        assert record.pop("decoded_by") == ("browser" if grey else "libavif"), sample.path.name
        assert record.pop("pixel_check").get("code", "passed") == ("passed" if grey else "channels_swapped")
        apart = {key: bits_apart(record.pop(key), native.pop(key)) for key in ("pdq", "phash", "dhash", "ahash")}
        assert beyond_tolerance(apart, "exact" if grey else "libavif") == {}, (sample.path.name, apart)
        record.pop("pdq_quality"), native.pop("pdq_quality")
        assert record == native, sample.path.name
    context.close()
