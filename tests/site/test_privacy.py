"""Over a whole session, nothing but allow-listed hashes leaves the page, and only to the site's origin."""

from __future__ import annotations

import json
import re
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
    sent_values = {h["value"] for h in sent["hashes"] if h["type"] != "vpdq"}
    for record in records:
        assert record["md5"] in sent_values and record["sha256"] in sent_values
    assert all(set(h["value"]) <= set("0123456789abcdef") for h in sent["hashes"] if h["type"] != "vpdq")
    # A video's vPDQ: only its frames' PDQ, quality and time in seconds, each as python-threatexchange writes it.
    frames = [h["value"] for h in sent["hashes"] if h["type"] == "vpdq"]
    assert frames == [r["vpdq"] for r in records if r.get("vpdq")] and frames
    assert all(re.fullmatch(r"[0-9a-f]{64},\d{1,3},[0-9.e+-]+", frame) for video in frames for frame in video)
    # What reached the endpoint is exactly what the browser sent.
    assert site.recorded[-1]["body"] == body
    assert site.recorded[-1]["headers"].get("Idempotency-Key") == "test-key-1"


ALLOW_LIST = """() => {
  const frame = (i) => `${"ab".repeat(32)},${90 + (i % 11)},${(i * 1.0).toFixed(1)}`;
  const build = (hashes) => window.localhash.buildCaseBody({ hashes });
  const refused = (hash) => {
    try { build([hash]); return false; } catch { return true; }
  };
  const many = (n) => Array.from({ length: n }, (_, i) => frame(i));
  const body = window.localhash.buildCaseBody({
    hashes: [
      { type: "pdq", value: "AB".repeat(32), quality: 77, kind: "original", file: "me.jpg", width: 4032 },
      { type: "vpdq", value: [frame(0), frame(1)], quality: 90, kind: "original", duration: 61, name: "me.mp4" },
    ],
  });
  return {
    body,
    refused: {
      filenameInFrame: refused({ type: "vpdq", value: [frame(0) + ",me.mp4"] }),
      wordInFrame: refused({ type: "vpdq", value: ["cat.mp4,100,0.0"] }),
      qualityOver100: refused({ type: "vpdq", value: [`${"ab".repeat(32)},101,0.0`] }),
      notAList: refused({ type: "vpdq", value: frame(0) }),
      empty: refused({ type: "vpdq", value: [] }),
      overSixHours: refused({ type: "vpdq", value: many(6 * 3600 + 1) }),
      unknownType: refused({ type: "exif", value: "ab" }),
    },
    sixHours: build([{ type: "vpdq", value: many(6 * 3600) }]).hashes[0].value.length,
  };
}"""


def test_the_allow_list_passes_a_hash_and_nothing_else(browser, site):
    """buildCaseBody keeps a hash's type, value, PDQ quality and kind, and a vPDQ only as frames of hex, a
    quality and a time: a frame carrying anything else, or too many frames, refuses the whole body."""
    page = browser.new_page()
    page.goto(site.url)
    outcome = page.evaluate(ALLOW_LIST)
    page.close()
    frames = [f"{'ab' * 32},90,0.0", f"{'ab' * 32},91,1.0"]
    assert outcome["body"] == {
        "hashes": [
            {"type": "pdq", "value": "ab" * 32, "quality": 77, "kind": "original"},
            {"type": "vpdq", "value": frames},
        ]
    }
    assert all(outcome["refused"].values()), outcome["refused"]
    assert outcome["sixHours"] == 6 * 3600
