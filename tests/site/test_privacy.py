"""Over a whole session, nothing but allow-listed hashes leaves the page, and only to the site's origin."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from localhash.match import KINDS
from tests.conftest import CORPUS, PDQ_IMAGES, require_corpus

WINDOW = 32  # no request may carry any 32-byte run of any file the person chose


def chosen_files() -> list[Path]:
    return [
        PDQ_IMAGES / "reg-test-input/exif-rotn/exif-rotn-6.jpg",  # EXIF with camera make/model, GPS-free
        PDQ_IMAGES / "misc-images/modes/RGBA.png",
        PDQ_IMAGES / "pytx-resources/LA.png",
        CORPUS / "vpdq/videos/chair-19-sd-bar.mp4",
    ]


def leaks_file_bytes(payload: bytes, files: list[bytes]) -> bool:
    return any(payload[i : i + WINDOW] in data for data in files for i in range(0, max(len(payload) - WINDOW + 1, 0)))


def test_only_allow_listed_hashes_leave_the_page(browser, site):
    require_corpus()
    files = chosen_files()
    contents = [f.read_bytes() for f in files]
    context = browser.new_context()
    requests = []
    context.on("request", lambda r: requests.append({"url": r.url, "method": r.method, "body": r.post_data_buffer}))
    page = context.new_page()
    page.goto(site.url)
    page.evaluate("window.localhash.ready")
    page.set_input_files("#files", [str(f) for f in files])
    page.wait_for_function(
        "(n) => document.querySelectorAll('#results li:not(.pending)').length === n", arg=len(files), timeout=120_000
    )
    records = [json.loads(r) for r in page.eval_on_selector_all("#results li", "els => els.map(e => e.dataset.record)")]
    assert all(r["ok"] for r in records), records
    assert {r["media"] for r in records} == {"image", "video"}
    answer = page.evaluate(
        """async (records) => window.localhash.submit({
             pin: "246810",
             consent: {adult: true, depicted: true, intimate: true, share_hashes: true},
             hashes: records.flatMap((r) => window.localhash.hashesOf(r)),
           }, {idempotencyKey: "test-key-1"})""",
        records,
    )
    assert answer["status"] == 201
    context.close()

    # The worker's own requests are seen too (Pyodide's wheels), so nothing escapes the recording.
    assert any(urlsplit(r["url"]).path.endswith(".whl") for r in requests), [r["url"] for r in requests]
    site_origin = urlsplit(site.url)
    for request in requests:
        if request["url"].startswith(f"blob:{site.origin}/"):  # thumbnails: the file in memory, not the network
            assert request["method"] == "GET"
            continue
        url = urlsplit(request["url"])
        assert (url.scheme, url.netloc) == (site_origin.scheme, site_origin.netloc), request["url"]
        for f in files:
            assert f.name not in request["url"]
    posts = [r for r in requests if r["method"] != "GET"]
    assert [urlsplit(r["url"]).path for r in posts] == ["/api/v1/cases"]
    body = posts[0]["body"]
    assert not leaks_file_bytes(body, contents)
    for f in files:
        assert f.name.encode() not in body
    sent = json.loads(body)
    assert set(sent) == {"pin", "consent", "hashes"}
    # A hash's kind is one of localhash's fixed names: it can carry nothing of the picture.
    assert all(set(h) <= {"type", "value", "quality", "kind"} for h in sent["hashes"])
    assert all(h["kind"] in KINDS for h in sent["hashes"] if "kind" in h)
    sent_values = {h["value"] for h in sent["hashes"]}
    for record in records:
        assert record["md5"] in sent_values and record["sha256"] in sent_values
    assert all(set(h["value"]) <= set("0123456789abcdef") for h in sent["hashes"])
    # What reached the endpoint is exactly what the browser sent.
    assert site.recorded[-1]["body"] == body
    assert site.recorded[-1]["headers"].get("Idempotency-Key") == "test-key-1"
