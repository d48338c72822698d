"""Variants in the browser (issue 12): the PDQ of the picture as apps re-frame and turn it, computed in Chromium,
Firefox and WebKit, equal to the native CLI's on corpus photos of every decoder path (the browser's JPEG, Pillow's PNG,
a turned JPEG, libheif's HEIC, the browser's AVIF)."""

from __future__ import annotations

import json
import subprocess

import pytest

from localhash import hash_bytes
from site_build.system import ensure_node_modules
from tests.conftest import PDQ_IMAGES, ROOT, require_corpus
from tests.site.conftest import hash_in_page
from tests.site.test_firefox import FIREFOX, SMOKE
from tests.webkit_page import call, open_page, recorded_webkit
from tests.webkit_page import hash_in_page as hash_in_webkit

FILES = (
    "bridge-mods/blur-a-little.jpg",  # the browser's JPEG decoder, 1600x1004: a working copy at 1/2
    "reg-test-input/exif-rotn/exif-rotn-6.jpg",  # 12 MP, EXIF-turned: the variants are of what people see
    "pytx-resources/LA.png",  # Pillow's decoder
)


@pytest.fixture(scope="module")
def files(heif_samples, avif_samples):
    require_corpus()
    return [PDQ_IMAGES / name for name in FILES] + [heif_samples[1].path, avif_samples[1].path]


def differences(records: list[dict], files) -> dict:
    found = {}
    for path, record in zip(files, records, strict=True):
        native = hash_bytes(path.read_bytes(), variants=True, dihedral=True)
        assert record["ok"] and native["ok"], (path.name, record)
        for field in ("pdq_variants", "pdq_turned"):
            if record.get(field) != native[field]:
                found[path.name, field] = (record.get(field), native[field])
    return found


def test_chromium_makes_the_native_variants(page, files):
    records = [hash_in_page(page, path.read_bytes(), variants=True, dihedral=True) for path in files]
    assert differences(records, files) == {}
    assert len(records[0]["pdq_variants"]) == 12
    assert page.errors == []


def test_firefox_makes_the_native_variants(site, files):
    if not FIREFOX.exists():
        pytest.fail(f"{FIREFOX} is missing: `python3 build.py test` installs Debian's firefox-esr")
    ensure_node_modules(ROOT)
    command = ["node", SMOKE, "--variants", site.url, *map(str, files)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"firefox_smoke.mjs failed:\n{result.stderr[-4000:]}"
    run = json.loads(result.stdout)
    # Firefox's JPEG and AVIF pixels are its own decoder's (within a few PDQ bits of native): only the files
    # whose pixels are native's in every engine are compared bit for bit.
    exact = [i for i, path in enumerate(files) if path.suffix in (".png", ".heic")]
    assert differences([run["records"][i] for i in exact], [files[i] for i in exact]) == {}
    assert all(len(run["records"][i]["pdq_variants"]) == 12 for i in (0, 1))


def test_webkit_makes_the_native_variants(site, files):
    with recorded_webkit(site.origin) as (driver, _):
        open_page(driver, site.url)
        call(driver, "() => window.localhash.ready.then(() => true)")
        records = [hash_in_webkit(driver, path.read_bytes(), variants=True, dihedral=True) for path in files]
    assert differences(records, files) == {}
