"""A JPEG larger than one strip (localhash.pdq.STRIP_PIXELS) reaches wasm memory a strip at a time, in every
engine: WebCodecs rectangles or a canvas one strip high, a second sweep from the bottom for a turned photo.
Chromium and WebKit give the native record in every field; Firefox, whose JPEG decoder rounds differently,
PDQ within its measured bound. The sizes in between (200 MP) are measured by `bench/browser.py`."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from PIL import Image

from localhash import hash_bytes
from localhash.pdq import STRIP_PIXELS, strip_rows
from site_build.system import ensure_node_modules
from tests.conftest import ROOT, jpeg_with_orientation, native_fields
from tests.site.conftest import hash_in_page
from tests.site.test_firefox import FIREFOX, MAX_JPEG_DISTANCE, SMOKE, distance
from tests.webkit_page import call, open_page, page_errors, recorded_webkit
from tests.webkit_page import hash_in_page as hash_in_webkit

WIDTH, HEIGHT = 3000, 2900  # 8.7 MP: three strips, the last one short


def big_photos() -> dict[str, bytes]:
    """Photo-like pixels (smooth structure, sensor-like noise), as stored (orientation 1) and as a phone held
    upright stores them (EXIF orientation 6: pdq_oriented needs the second sweep, from the bottom)."""
    rng = np.random.default_rng(17)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    base = np.stack([128 + 90 * np.sin(x / (97 + 23 * c) + y / (131 - 17 * c)) for c in range(3)], axis=-1)
    picture = Image.fromarray(np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8))
    return {f"orientation-{orientation}.jpg": jpeg_with_orientation(picture, orientation) for orientation in (1, 6)}


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    strips = -(-HEIGHT // strip_rows(WIDTH))
    assert strips == 3 and HEIGHT % strip_rows(WIDTH), f"{STRIP_PIXELS} px strips: pick a size that makes 3"
    return big_photos()


def assert_native_record(name: str, record: dict, data: bytes) -> None:
    assert record["decoded_by"] == "browser" and record["pixel_check"]["passed"], (name, record.get("pixel_check"))
    assert native_fields(record) == hash_bytes(data), name


def test_chromium_hashes_a_photo_of_several_strips_as_native(page, photos):
    for name, data in photos.items():
        assert_native_record(name, hash_in_page(page, data), data)
    assert page.errors == []


def test_webkit_hashes_a_photo_of_several_strips_as_native(site, photos):
    with recorded_webkit(site.origin) as (driver, _):
        open_page(driver, site.url)
        call(driver, "() => window.localhash.ready.then(() => true)")
        for name, data in photos.items():
            assert_native_record(name, hash_in_webkit(driver, data), data)
        assert page_errors(driver) == []


def test_firefox_hashes_a_photo_of_several_strips_within_its_jpeg_bound(site, photos, tmp_path):
    if not FIREFOX.exists():
        pytest.fail(f"{FIREFOX} is missing: `python3 build.py test` installs Debian's firefox-esr")
    ensure_node_modules(ROOT)
    paths = []
    for name, data in photos.items():
        paths.append(tmp_path / name)
        paths[-1].write_bytes(data)
    result = subprocess.run(
        ["node", SMOKE, site.url, *map(str, paths)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"firefox_smoke.mjs failed:\n{result.stderr[-4000:]}"
    run = json.loads(result.stdout)
    assert "Firefox/" in run["userAgent"] and run["errors"] == []
    for path, record in zip(paths, run["records"], strict=True):
        native = hash_bytes(path.read_bytes())
        assert record["decoded_by"] == "browser" and record["pixel_check"]["passed"], (path.name, record)
        assert (record["width"], record["height"], record["sha256"]) == (WIDTH, HEIGHT, native["sha256"])
        for field in ("pdq", "pdq_oriented"):
            if field in native:
                assert distance(record[field], native[field]) <= MAX_JPEG_DISTANCE, (path.name, field)
