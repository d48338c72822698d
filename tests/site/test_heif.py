"""HEIC/HEIF in the browser: libheif in wasm, loaded only when a HEIF is chosen, records equal to native
(pillow-heif) within the measured tolerance in Chromium, Firefox and WebKit, typed errors for damaged files."""

from __future__ import annotations

import json
import subprocess

import pytest

from localhash import hash_bytes
from site_build.system import ensure_node_modules
from tests.conftest import ROOT
from tests.heif_samples import heif_differences
from tests.site.conftest import hash_in_page
from tests.site.test_firefox import FIREFOX, SMOKE
from tests.webkit_page import call, open_page, recorded_webkit
from tests.webkit_page import hash_in_page as hash_in_webkit

LIBHEIF = "libheif-bundle.mjs"


def libheif_requests(site, first: int) -> list[str]:
    return [r["path"] for r in site.requests[first:] if r["path"] and LIBHEIF in r["path"]]


def parity_problems(records: list[dict], samples) -> dict:
    problems = {}
    for sample, record in zip(samples, records, strict=True):
        native = hash_bytes(sample.path.read_bytes())
        assert native["ok"], native
        difference = heif_differences(record, native, sample.quality)
        if difference:
            problems[sample.path.name] = difference
    return problems


def test_chromium_hashes_heif_as_native_and_fetches_libheif_only_for_it(page, site, heif_samples, corpus):
    first = len(site.requests)
    jpeg = (corpus / "pdq/images/bridge-mods/blur-a-little.jpg").read_bytes()
    assert hash_in_page(page, jpeg)["ok"]
    assert libheif_requests(site, first) == [], "a JPEG made the page download the HEIF decoder"
    records = [hash_in_page(page, sample.path.read_bytes()) for sample in heif_samples]
    assert parity_problems(records, heif_samples) == {}
    assert len(libheif_requests(site, first)) == 1, "the HEIF decoder is downloaded once"
    burst = next(r for s, r in zip(heif_samples, records, strict=True) if s.images > 1)
    assert burst["frames"] == 3
    assert page.errors == []


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda data: data[:40], id="boxes_missing"),
        pytest.param(lambda data: data[: len(data) // 2], id="half_the_file"),
        pytest.param(lambda data: data[:60] + bytes(len(data) - 60), id="zeroed"),
    ],
)
def test_a_damaged_heif_is_corrupt_image_and_the_next_file_still_hashes(page, heif_samples, cut):
    data = heif_samples[1].path.read_bytes()
    record = hash_in_page(page, cut(data))
    assert record["ok"] is False and record["error"]["code"] == "corrupt_image", record
    assert hash_in_page(page, data)["ok"]


def test_firefox_hashes_heif_as_native(site, heif_samples):
    if not FIREFOX.exists():
        pytest.fail(f"{FIREFOX} is missing: `python3 build.py test` installs Debian's firefox-esr")
    ensure_node_modules(ROOT)
    paths = [str(sample.path) for sample in heif_samples]
    result = subprocess.run(["node", SMOKE, site.url, *paths], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"firefox_smoke.mjs failed:\n{result.stderr[-4000:]}"
    run = json.loads(result.stdout)
    assert "Firefox/" in run["userAgent"] and run["errors"] == []
    assert parity_problems(run["records"], heif_samples) == {}


def test_webkit_hashes_heif_as_native(site, heif_samples):
    with recorded_webkit(site.origin) as (driver, _):
        open_page(driver, site.url)
        call(driver, "() => window.localhash.ready.then(() => true)")
        records = [hash_in_webkit(driver, sample.path.read_bytes()) for sample in heif_samples]
    assert parity_problems(records, heif_samples) == {}
