"""Firefox (Debian's firefox-esr over WebDriver BiDi): records equal to native, and only same-origin requests."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image

import localhash
from localhash.match import KINDS
from site_build.dist import runtime_dir
from site_build.system import ensure_node_modules
from tests.conftest import PDQ_IMAGES, ROOT, require_corpus

FIREFOX = Path("/usr/bin/firefox-esr")
SMOKE = Path(__file__).with_name("firefox_smoke.mjs")
CORPUS_FILES = [
    "pytx-resources/LA.png",
    "misc-images/modes/I.webp",
    "reg-test-input/labelme-subset/q0122.jpg",
    "pytx-resources/rgb.jpeg",
    "bridge-mods/square-256x256.jpg",
]
ALLOWED_KEYS = {"hashes", "pin", "consent"}
MAX_JPEG_DISTANCE = 4  # the bound for browser JPEG decoding vs libjpeg-turbo in pdqhash


def generated_gif(folder: Path) -> Path:
    """The corpus has no GIF: a palette image with gradients and fixed-seed noise."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:180, 0:260]
    rgb = np.stack([128 + 110 * np.sin(x / (17 + 9 * c) + y / (23 - 4 * c)) for c in range(3)], axis=-1)
    image = Image.fromarray(np.clip(rgb + rng.normal(0, 12, rgb.shape), 0, 255).astype(np.uint8)).convert("P")
    path = folder / "generated.gif"
    image.save(path, "GIF")
    return path


def pdqhash_hex(data: bytes) -> tuple[str, int]:
    """Meta's PDQ (pdqhash) of the pixels native Pillow decodes (libjpeg-turbo for JPEG)."""
    bits, quality = pdqhash.compute(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    return format(int("".join(str(int(b)) for b in bits), 2), "064x"), quality


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


@pytest.fixture(scope="module")
def firefox_run(site, tmp_path_factory):
    """One Firefox session on the site: hash the images, submit their hashes; what it saw and what the server got."""
    require_corpus()
    if not FIREFOX.exists():
        pytest.fail(f"{FIREFOX} is missing: `python3 build.py test` installs Debian's firefox-esr")
    ensure_node_modules(ROOT)  # puppeteer-core, as package-lock.json pins it
    images = [PDQ_IMAGES / name for name in CORPUS_FILES] + [generated_gif(tmp_path_factory.mktemp("firefox"))]
    posts_before = len(site.recorded)
    result = subprocess.run(
        ["node", SMOKE, "--submit", site.url, *map(str, images)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"firefox_smoke.mjs failed:\n{result.stderr[-4000:]}"
    run = json.loads(result.stdout)
    run["images"] = images
    run["posted"] = site.recorded[posts_before:]
    return run


def test_firefox_is_the_browser_under_test(firefox_run):
    assert "Firefox/" in firefox_run["userAgent"]
    assert firefox_run["errors"] == []


def test_non_jpeg_records_equal_native_in_every_field(firefox_run):
    checked = []
    for path, record in zip(firefox_run["images"], firefox_run["records"], strict=True):
        if path.suffix.lower() in (".jpg", ".jpeg"):
            continue
        assert record == localhash.hash_bytes(path.read_bytes()), path.name
        checked.append(record["format"])
    assert {"PNG", "WEBP", "GIF"} <= set(checked)


def test_jpeg_pdq_is_within_4_bits_of_pdqhash(firefox_run):
    distances = {}
    for path, record in zip(firefox_run["images"], firefox_run["records"], strict=True):
        if path.suffix.lower() not in (".jpg", ".jpeg"):
            continue
        data = path.read_bytes()
        native = localhash.hash_bytes(data)
        assert set(record) == set(native) | {"decoded_by", "pixel_check"}, path.name
        assert record["decoded_by"] == "browser", (path.name, record["pixel_check"])  # Firefox's pixels pass
        for field in ("format", "width", "height", "frames", "md5", "sha256"):
            assert record[field] == native[field], (path.name, field)
        reference, quality = pdqhash_hex(data)
        assert quality >= 50, f"{path.name}: pick JPEGs the bound applies to"
        distances[path.name] = distance(record["pdq"], reference)
    print(f"Firefox JPEG PDQ distance to pdqhash: {distances}")
    assert len(distances) >= 3
    assert max(distances.values()) <= MAX_JPEG_DISTANCE, distances


def test_every_request_goes_to_the_site_origin_including_the_workers(firefox_run, site, dist):
    requests = firefox_run["requests"]
    assert firefox_run["worker_requests_seen"], "BiDi showed none of the worker's pyodide-<hex>/ fetches"
    seen = {r["url"] for r in requests}
    runtime = site.url + runtime_dir(dist).name
    assert f"{runtime}/pyodide.asm.wasm" in seen and f"{runtime}/pyodide-lock.json" in seen
    assert [r["url"] for r in requests if not r["url"].startswith(site.origin + "/")] == []
    posts = [r for r in requests if r["method"] != "GET"]
    assert [(r["method"], r["url"]) for r in posts] == [("POST", site.url + "api/v1/cases")]


def test_the_only_post_carries_allow_listed_hashes_and_no_image_bytes(firefox_run):
    # Firefox 140's BiDi has no network.getData, so the body is read where it arrived: the test server.
    [post] = firefox_run["posted"]
    assert post["path"] == "/api/v1/cases"
    body = json.loads(post["body"])
    assert set(body) == ALLOWED_KEYS
    assert set(body["consent"]) == {"adult", "depicted", "intimate", "share_hashes"}
    records = firefox_run["records"]
    expected = {("pdq", r["pdq"]) for r in records} | {("md5", r["md5"]) for r in records}
    expected |= {("sha256", r["sha256"]) for r in records}
    assert {(h["type"], h["value"]) for h in body["hashes"]} == expected
    for entry in body["hashes"]:
        assert set(entry) <= {"type", "value", "quality", "kind"}
        assert entry.get("kind", "original") in KINDS  # one of localhash's fixed names
    sent = post["body"]
    windows = [sent[i : i + 32] for i in range(len(sent) - 31)]
    for path in firefox_run["images"]:
        data = path.read_bytes()
        assert not any(w in data for w in windows), f"32 bytes of {path.name} in the POST body"
        assert path.name.encode() not in sent
    assert firefox_run["submitted"]["status"] == 201
