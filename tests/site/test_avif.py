"""AVIF in the browser: the browser's own decoder, checked against libavif in wasm (loaded only when an AVIF is
chosen), records equal to native (pillow-avif-plugin) in Chromium, Firefox and WebKit within the measured
tolerance, libavif's pixels hashed where the browser's fail or are missing, typed errors for damaged files."""

from __future__ import annotations

import json
import subprocess

import pytest

from localhash import hash_bytes
from site_build.system import ensure_node_modules
from tests.avif_samples import beyond_tolerance
from tests.conftest import ROOT
from tests.heif_samples import bits_apart
from tests.site.conftest import hash_in_page
from tests.site.test_firefox import FIREFOX, SMOKE
from tests.webkit_page import call, open_page, recorded_webkit
from tests.webkit_page import hash_in_page as hash_in_webkit

LIBAVIF = "avif_dec"


def libavif_requests(site, first: int) -> list[str]:
    return [r["path"] for r in site.requests[first:] if r["path"] and LIBAVIF in r["path"]]


def differences(records: list[dict], samples) -> dict:
    """Per sample: who decoded it, the pixel check's verdict and figures, how far each hash is from native
    (bits; the dihedral ones at most), whether every other field is equal."""
    found = {}
    for sample, record in zip(samples, records, strict=True):
        dihedral = "pdq_dihedral" in record
        native = hash_bytes(sample.path.read_bytes(), dihedral=dihedral)
        assert native["ok"] and record["ok"], (sample.path.name, record)
        record = dict(record)
        check = record.pop("pixel_check")
        entry = {
            "decoded_by": record.pop("decoded_by"),
            "check": check.get("code", "passed"),
            "luma_error": check["luma_error"],
            "colour_error": check["colour_error"],
        }
        for key in ("pdq", "phash", "dhash", "ahash"):
            entry[key] = bits_apart(record.pop(key), native.pop(key))
        if dihedral:
            ours, theirs = record.pop("pdq_dihedral"), native.pop("pdq_dihedral")
            entry["pdq"] = max([entry["pdq"]] + [bits_apart(ours[k], theirs[k]) for k in theirs])
        entry["same_otherwise"] = {k: v for k, v in record.items() if k != "pdq_quality"} == {
            k: v for k, v in native.items() if k != "pdq_quality"
        }
        found[sample.path.name] = entry
    return found


def hashes_apart(entry: dict) -> dict:
    return {key: entry[key] for key in ("pdq", "phash", "dhash", "ahash")}


def test_chromium_hashes_its_own_avif_decode_exactly_and_fetches_libavif_only_for_it(page, site, avif_samples, corpus):
    first = len(site.requests)
    jpeg = (corpus / "pdq/images/bridge-mods/blur-a-little.jpg").read_bytes()
    assert hash_in_page(page, jpeg)["ok"]
    assert libavif_requests(site, first) == [], "a JPEG made the page download the AVIF decoder"
    records = [hash_in_page(page, sample.path.read_bytes(), dihedral=True) for sample in avif_samples]
    found = differences(records, avif_samples)
    print(json.dumps(found, indent=1))
    for name, entry in found.items():
        # Chromium's AVIF decoder is libavif with libyuv's bilinear chroma, as pillow-avif's: the same bytes.
        assert (entry["decoded_by"], entry["check"], entry["same_otherwise"]) == ("browser", "passed", True), name
        assert hashes_apart(entry) == {"pdq": 0, "phash": 0, "dhash": 0, "ahash": 0}, name
    fetched = libavif_requests(site, first)
    assert sorted(p.rsplit("/", 1)[-1] for p in fetched) == ["avif_dec.js", "avif_dec.wasm"], "fetched once"
    assert page.errors == []


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[:40], id="boxes_missing"),
        pytest.param(lambda data: data[: len(data) // 2], id="half_the_file"),
        pytest.param(lambda data: data[:600] + bytes(len(data) - 600), id="zeroed"),
    ],
)
def test_a_damaged_avif_is_corrupt_image_and_the_next_file_still_hashes(page, avif_samples, damage):
    data = avif_samples[1].path.read_bytes()
    record = hash_in_page(page, damage(data))
    assert record["ok"] is False and record["error"]["code"] == "corrupt_image", record
    assert hash_in_page(page, data)["ok"]
    assert page.errors == []


def test_firefox_hashes_its_own_avif_decode_within_the_tolerance(site, avif_samples):
    if not FIREFOX.exists():
        pytest.fail(f"{FIREFOX} is missing: `python3 build.py test` installs Debian's firefox-esr")
    ensure_node_modules(ROOT)
    paths = [str(sample.path) for sample in avif_samples]
    result = subprocess.run(["node", SMOKE, site.url, *paths], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"firefox_smoke.mjs failed:\n{result.stderr[-4000:]}"
    run = json.loads(result.stdout)
    assert "Firefox/" in run["userAgent"] and run["errors"] == []
    found = differences(run["records"], avif_samples)
    print(json.dumps(found, indent=1))
    for name, entry in found.items():
        # Firefox upsamples chroma by nearest neighbour: its pixels pass the check, its hashes within tolerance.
        assert (entry["decoded_by"], entry["check"], entry["same_otherwise"]) == ("browser", "passed", True), name
        assert beyond_tolerance(hashes_apart(entry), "firefox") == {}, name


def test_webkit_hashes_avif_as_native_and_libavifs_pixels_where_it_does_not_turn_them(site, avif_samples):
    with recorded_webkit(site.origin) as (driver, _):
        open_page(driver, site.url)
        call(driver, "() => window.localhash.ready.then(() => true)")
        records = [hash_in_webkit(driver, sample.path.read_bytes()) for sample in avif_samples]
    found = differences(records, avif_samples)
    print(json.dumps(found, indent=1))
    for sample in avif_samples:
        entry = found[sample.path.name]
        assert entry["same_otherwise"], sample.path.name
        if sample.orientation == 1:  # WebKitGTK's decoder is libavif with libyuv, as the plugin: the same bytes
            assert (entry["decoded_by"], entry["check"]) == ("browser", "passed"), sample.path.name
            assert beyond_tolerance(hashes_apart(entry), "exact") == {}, sample.path.name
        else:  # WebKitGTK ignores AVIF's rotation and mirror (AVIFImageReader.cpp): caught, libavif's hashed
            assert (entry["decoded_by"], entry["check"]) in {("libavif", "wrong_size"), ("libavif", "pixels_differ")}
            assert beyond_tolerance(hashes_apart(entry), "libavif") == {}, sample.path.name
