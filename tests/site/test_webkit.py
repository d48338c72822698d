"""WebKit (MiniBrowser, the engine of every iPhone browser): records equal to native on every file, the same
typed errors, and nothing but allow-listed hashes leaving the page, only for the site's origin."""

from __future__ import annotations

import io
import json
from collections import Counter
from urllib.parse import urlsplit

import pytest
from PIL import Image

from localhash import hash_bytes
from localhash.match import KINDS
from site_build import headers
from tests.conftest import BROWSER_ONLY_KEYS, PDQ_IMAGES, native_fields, require_corpus
from tests.site.test_bad_files import bad_files
from tests.site.test_parity import all_files
from tests.site.test_privacy import WINDOW, chosen_files
from tests.webkit_page import call, hash_in_page, open_page, page_errors, recorded_webkit, shown_records, until

SUBMIT = """async (records) => window.localhash.submit({
  pin: "246810",
  consent: { adult: true, depicted: true, intimate: true, share_hashes: true },
  hashes: records.flatMap((r) => window.localhash.hashesOf(r)),
}, { idempotencyKey: "webkit-key-1" })"""


@pytest.fixture(scope="module")
def webkit_site(site):
    """One WebKit session on the site for the module, the hasher ready; (driver, proxy, first request)."""
    require_corpus()
    first = len(site.requests)
    with recorded_webkit(site.origin) as (driver, proxy):
        open_page(driver, site.url)
        call(driver, "() => window.localhash.ready.then(() => true)")
        yield driver, proxy, first


def browser_decodes(data: bytes) -> bool:
    """A colour or greyscale JPEG: the files whose pixels the browser decodes (CMYK stays with Pillow)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format == "JPEG" and image.mode in ("RGB", "L")
    except Exception:
        return False


def path_of(url: str) -> str:
    """The path and query of a URL, as the server logs them."""
    return urlsplit(url)._replace(scheme="", netloc="").geturl()


def test_webkit_is_the_browser_under_test(webkit_site):
    driver, _, _ = webkit_site
    agent = driver.execute_script("return navigator.userAgent")
    assert "AppleWebKit/" in agent and "Chrome" not in agent and "Firefox" not in agent, agent
    assert driver.capabilities["browserName"] == "MiniBrowser"


def test_every_record_equals_native_in_every_field_jpeg_included(webkit_site):
    driver, _, _ = webkit_site
    files = all_files()
    problems, unequal, decoders, errors = [], [], Counter(), []
    for name, data in files.items():
        native = hash_bytes(data)
        record = hash_in_page(driver, data)
        extra = {key: record.pop(key) for key in BROWSER_ONLY_KEYS if key in record}
        if browser_decodes(data):
            decoders[extra.get("decoded_by", "unreported")] += 1
            check = extra.get("pixel_check") or {}
            errors.append((check.get("luma_error", 0), check.get("colour_error", 0)))
            if extra.get("decoded_by", "browser") != "browser" or check.get("passed") is False:
                problems.append(f"{name}: WebKit's own JPEG decode was rejected: {extra}")
        if record != native:
            unequal.append(name)
            keys = sorted(set(record) | set(native))
            differing = {k: (record.get(k), native.get(k)) for k in keys if record.get(k) != native.get(k)}
            problems.append(f"{name}: (WebKit, native) differ in {differing}")
    print(
        f"WebKit == native in every field on {len(files) - len(unequal)} of {len(files)} files; "
        f"browser-decoded JPEGs by their decoded_by: {dict(decoders)}, largest pixel_check luma_error "
        f"{max(e[0] for e in errors)}, colour_error {max(e[1] for e in errors)}"
    )
    assert sum(decoders.values()) >= 30, "the browser's JPEG path was hardly exercised"
    assert not problems, "\n".join(problems)


def test_bad_files_get_their_typed_errors_and_the_worker_carries_on(webkit_site):
    driver, _, _ = webkit_site
    good = (PDQ_IMAGES / "misc-images/wee.jpg").read_bytes()
    expected_good = hash_bytes(good)
    for name, (data, code) in bad_files().items():
        record = hash_in_page(driver, data)
        assert record["ok"] is False and record["error"]["code"] == code, f"{name}: {record}"
        assert record["error"]["message"], name
        after = hash_in_page(driver, good)
        assert native_fields(after) == expected_good, f"after {name}"
    assert page_errors(driver) == []


def test_only_allow_listed_hashes_leave_and_only_for_the_sites_origin(webkit_site, site):
    """Run last: the proxy's record covers the whole session, the tests above included."""
    driver, proxy, first = webkit_site
    files = chosen_files()
    contents = [f.read_bytes() for f in files]
    posts_before = len(site.recorded)
    driver.find_element("css selector", "#files").send_keys("\n".join(str(f) for f in files))
    until(driver, "document.querySelectorAll('#results li:not(.pending)').length === arguments[0]", len(files))
    records = shown_records(driver)
    assert all(r["ok"] for r in records) and {r["media"] for r in records} == {"image", "video"}, records
    answer = call(driver, SUBMIT, records)
    assert answer["status"] == 201, answer
    # The site's own resource timeline names only its origin (the worker's fetches are in its own).
    timeline = driver.execute_script("return performance.getEntriesByType('resource').map((e) => e.name)")
    assert timeline and [n for n in timeline if not n.startswith(site.origin + "/")] == []
    assert page_errors(driver) == []

    requests = list(proxy.requests)
    assert [r["url"] for r in requests if not r["url"].startswith(site.origin + "/")] == []
    assert any(r["url"].endswith(".whl") for r in requests), "the worker's fetches did not go through the proxy"
    # Nothing reached the server around the proxy.
    served = Counter((r["method"], r["path"]) for r in site.requests[first:])
    assert served == Counter((r["method"], path_of(r["url"])) for r in requests)
    for request in requests:
        assert not any(f.name in request["url"] for f in files), request["url"]
        body = request["body"]
        windows = {body[i : i + WINDOW] for i in range(len(body) - WINDOW + 1)}
        assert not any(w in data for w in windows for data in contents), f"file bytes in {request['url']}"
    posts = [r for r in requests if r["method"] != "GET"]
    assert [(r["method"], urlsplit(r["url"]).path) for r in posts] == [("POST", "/api/v1/cases")]
    [post] = posts
    sent = json.loads(post["body"])
    assert set(sent) == {"pin", "consent", "hashes"}
    # A hash's kind is one of localhash's fixed names: it can carry nothing of the picture.
    assert all(set(h) <= {"type", "value", "quality", "kind"} for h in sent["hashes"])
    assert all(h["kind"] in KINDS for h in sent["hashes"] if "kind" in h)
    sent_values = {h["value"] for h in sent["hashes"]}
    assert all(r["md5"] in sent_values and r["sha256"] in sent_values for r in records)
    for f in files:
        assert f.name.encode() not in post["body"]
    sent_headers = {k.lower(): v for k, v in post["headers"].items()}
    assert "cookie" not in sent_headers and "referer" not in sent_headers, sent_headers
    assert sent_headers["idempotency-key"] == "webkit-key-1"
    assert site.recorded[posts_before:][-1]["body"] == post["body"]  # what arrived is what was sent

    # The page and the worker got the site's real policy, and WebKit enforces it.
    policy = headers.security_headers("api/")["Content-Security-Policy"]
    for path in ("/", "/worker.js"):
        [response] = [r for r in requests if urlsplit(r["url"]).path == path]
        assert response["response_headers"]["Content-Security-Policy"] == policy, path
    assert call(driver, "async () => { try { return new Function('return 1')(); } catch (e) { return e.name; } }") == (
        "EvalError"
    )
