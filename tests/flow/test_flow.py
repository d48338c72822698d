"""The whole flow in Chromium against the real bank: eligibility, files (good, bad, dropped, removed,
added later), review, a failed submission and its retry, the case, the receipt, status before and
after partner feedback, withdrawal; with every request of the session recorded and checked."""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import expect

from localhash import hash_bytes
from localhash.video_native import vpdq_of_file
from tests.conftest import require_corpus

from . import driver
from .driver import EXIF_IMAGE, IMAGE, LOW_QUALITY, NOTHING_STORED, PIN, PNG, SMALL_IMAGE, STEP_TIMEOUT_MS, VIDEO

WINDOW = 32  # no request may carry any 32-byte run of any file the person chose
CASE_NUMBER = re.compile(r"^[0-9A-Z]{4}(-[0-9A-Z]{4}){4}$")
PARTNER = "Example Platform"


def leaks(payload: bytes, files: list[bytes]) -> bool:
    return any(payload[i : i + WINDOW] in data for data in files for i in range(max(len(payload) - WINDOW + 1, 0)))


def partner_headers(keys: dict) -> dict:
    return {"Ocp-Apim-Subscription-Key": keys["subscription_key"], "x-functions-key": keys["function_key"]}


def fetch_hashes(served, keys: dict, **params) -> list[dict]:
    """A partner's FetchHashes records (its first page), with these query parameters."""
    answer = requests.get(served.origin + "/v1/FetchHashes", params=params, headers=partner_headers(keys), timeout=10)
    return answer.json()["hashRecords"]


@pytest.fixture
def bad_files(tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("this is a shopping list, not a picture\n" * 20)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    return text, empty


def test_the_whole_flow(chromium, served, bad_files):
    require_corpus()
    keys = served.add_partner(PARTNER)
    cases_before = served.count("cases")
    context = chromium.new_context(accept_downloads=True, permissions=["clipboard-read", "clipboard-write"])
    recorded = []
    context.on(
        "request",
        lambda r: recorded.append({"url": r.url, "method": r.method, "headers": r.headers, "body": r.post_data_buffer}),
    )
    page = driver.open_flow(context, served.url)

    # 1. Eligibility: nothing proceeds without an adult, depicted, intimate, consenting person.
    page.click("#eligibility-next")
    assert "18 or older" in driver.error_text(page, "#eligibility-error")
    page.check("#age-minor")
    link = page.locator("#minor-note a")
    expect(link).to_be_visible()
    assert link.get_attribute("href") == "https://takeitdown.ncmec.org/"
    page.click("#eligibility-next")
    assert "Take It Down" in driver.error_text(page, "#eligibility-error")
    page.check("#age-adult")
    expect(page.locator("#minor-note")).to_be_hidden()
    page.check("#consent-depicted")
    page.click("#eligibility-next")
    assert "all three boxes" in driver.error_text(page, "#eligibility-error")
    assert driver.step(page) == "eligibility"
    driver.pass_eligibility(page)

    # 2. Files: good and bad ones together, one by drag and drop; each its own result.
    text_file, empty_file = bad_files
    driver.choose_files(page, [IMAGE, LOW_QUALITY, text_file, EXIF_IMAGE, empty_file, SMALL_IMAGE])
    driver.drop_file(page, VIDEO, "video/mp4")
    records = driver.wait_for_files(page)
    assert [r["ok"] for r in records] == [True, True, False, True, False, True, True]
    expect(driver.file_item(page, "notes.jpg")).to_contain_text("not a picture or video we can read")
    expect(driver.file_item(page, "empty.png")).to_contain_text("This file is empty")
    expect(driver.file_item(page, VIDEO.name)).to_contain_text("Fingerprint ready")
    assert records[-1]["media"] == "video"
    thumbnail = driver.file_item(page, SMALL_IMAGE.name).locator("img.thumb")
    thumb_url = thumbnail.get_attribute("src")
    assert thumb_url.startswith("blob:" + served.origin)
    expect(page.locator("#files-summary")).to_have_text("5 of 7 files ready.")

    # Remove the bad files and one image; the image's object URL is revoked.
    load_image = """(url) => new Promise((ok) => {
        const i = new Image(); i.onload = () => ok(true); i.onerror = () => ok(false); i.src = url; })"""
    assert page.evaluate(load_image, thumb_url)
    for name in ("notes.jpg", "empty.png", SMALL_IMAGE.name):
        driver.file_item(page, name).get_by_role("button", name=f"Remove {name}").click()
        expect(driver.file_item(page, name)).to_have_count(0)
    assert not page.evaluate(load_image, thumb_url)
    expect(page.locator("#files-summary")).to_have_text("4 of 4 files ready.")
    kept = [r for r in records if r["ok"]]
    kept = [kept[0], kept[1], kept[2], kept[4]]  # IMAGE, LOW_QUALITY, EXIF_IMAGE, VIDEO

    # 3. Review: the exact body; low quality flagged; dihedral copies added on request.
    body = driver.to_review(page)
    assert list(body) == ["hashes", "consent"]
    assert body["consent"] == {"adult": True, "depicted": True, "intimate": True, "share_hashes": True}
    expected = expected_hashes(kept, dihedral=False)
    assert body["hashes"] == expected
    expect(page.locator("#review-files .low-quality")).to_have_count(1)
    expect(page.locator("#review-files li", has_text=LOW_QUALITY.name)).to_contain_text("Low quality (36 of 100)")
    page.check("#dihedral")
    body = driver.shown_body(page)
    assert body["hashes"] == expected_hashes(kept, dihedral=True)
    assert len(body["hashes"]) > len(expected)
    for record in kept[:3]:
        assert set(record["pdq_dihedral"].values()) <= {h["value"] for h in body["hashes"] if h["type"] == "pdq"}

    # The copies apps make: made only now that they are asked for, each picture hashed again with
    # them, in the worker; the same values as the native CLI's, each named by its kind.
    assert "pdq_variants" not in kept[0]
    page.check("#variants")
    expect(page.locator("#variants-status")).to_have_text("The extra fingerprints are ready.", timeout=STEP_TIMEOUT_MS)
    kept = driver.records(page)
    native = hash_bytes(IMAGE.read_bytes(), dihedral=True, variants=True)
    assert kept[0]["pdq_variants"] == native["pdq_variants"] and len(native["pdq_variants"]) >= 10
    assert kept[0]["pdq_turned"] == native["pdq_turned"]
    assert kept[1]["pdq_variants"] == {}  # LOW_QUALITY: below 50, no variants
    assert "pdq_variants" not in kept[3]  # the video
    body = driver.shown_body(page)
    assert body["hashes"] == expected_hashes(kept, dihedral=True, variants=True)
    kinds = {h["value"]: h.get("kind") for h in body["hashes"] if h["type"] != "vpdq"}
    assert {kinds[v["hash"]] for v in native["pdq_variants"].values()} == set(native["pdq_variants"])
    assert {kinds[v["hash"]] for v in native["pdq_turned"].values()} <= set(native["pdq_turned"])
    assert kinds[native["pdq"]] == "original" and kinds[kept[3]["md5"]] is None
    # The video's vPDQ is sent: Chromium's frames are native's (tests/site/test_vpdq.py), here too.
    assert kept[3]["vpdq"] == [str(f) for f in vpdq_of_file(str(VIDEO))] and kept[3]["vpdq_path"] == "i420"
    assert [h for h in body["hashes"] if h["type"] == "vpdq"] == [{"type": "vpdq", "value": kept[3]["vpdq"]}]

    # Language switch mid-flow: everything is translated, nothing is lost.
    page.select_option("#lang", "nl")
    expect(page.locator("#review-title")).to_have_text("Stap 3 van 4: Controleer wat er wordt verstuurd")
    expect(page.locator("#review-files .low-quality")).to_contain_text("Lage kwaliteit (36 van 100)")
    assert page.get_attribute("html", "lang") == "nl"
    assert page.is_checked("#dihedral") and page.is_checked("#variants") and driver.shown_body(page) == body

    # ...and adding more later works, in Dutch.
    page.click("[data-back=files]")
    expect(driver.file_item(page, IMAGE.name)).to_contain_text("Vingerafdruk klaar.")
    driver.choose_files(page, [PNG])
    driver.wait_for_files(page)
    page.select_option("#lang", "en")
    driver.to_review(page)  # the file added later gets its variants too, since the box is ticked
    expect(page.locator("#variants-status")).to_have_text("The extra fingerprints are ready.", timeout=STEP_TIMEOUT_MS)
    kept = driver.records(page)
    assert kept[-1]["pdq_variants"] == hash_bytes(PNG.read_bytes(), variants=True)["pdq_variants"]
    body = driver.shown_body(page)
    assert body["hashes"] == expected_hashes(kept, dihedral=True, variants=True)

    # 4. PIN: checked in the page before anything is sent.
    driver.to_pin(page)
    driver.type_pin(page, "12345")
    driver.send(page)
    assert "6 to 32 digits" in driver.error_text(page, "#pin-error")
    driver.type_pin(page, PIN, "482914")
    driver.send(page)
    assert "not the same" in driver.error_text(page, "#pin-error")
    assert [r for r in recorded if r["method"] != "GET"] == [], "something was sent before Send was pressed"
    assert driver.stored_on_device(page) == driver.NOTHING_STORED

    # A submission that reached the bank but whose answer was lost, then a 503, then the real answer.
    attempts = []

    def flaky(route):
        attempts.append(route.request.post_data)
        if len(attempts) == 1:
            route.fetch()  # the bank stores the case...
            route.abort("connectionreset")  # ...and the answer never arrives
        else:
            route.fulfill(status=503, json={"error": {"code": "unavailable", "message": "try later"}})

    page.route("**/api/v1/cases", flaky)
    driver.type_pin(page, PIN)
    driver.send(page)
    assert "could not be reached" in driver.error_text(page, "#pin-error")
    expect(page.locator("#send")).to_have_text("Try again")
    assert served.count("cases") == cases_before + 1
    page.click("#send")
    expect(page.locator("#pin-error")).to_contain_text("could not take your case just now")
    page.unroute("**/api/v1/cases")
    page.click("#send")
    case_number = driver.wait_for_case(page)
    assert CASE_NUMBER.match(case_number), case_number
    assert served.count("cases") == cases_before + 1, "a retry created a second case"
    posts = [r for r in recorded if r["method"] == "POST"]
    assert len(posts) == 3 and len({r["body"] for r in posts}) == 1
    assert len({r["headers"]["idempotency-key"] for r in posts}) == 1
    sent = json.loads(posts[0]["body"])
    assert sent == {"hashes": body["hashes"], "pin": PIN, "consent": body["consent"]}

    # 5. The case: number and PIN with copy buttons, a receipt made in the page.
    expect(page.locator("#case-pin")).to_have_text(PIN)
    page.click("#copy-case")
    expect(page.locator("#done-message")).to_have_text("The case number was copied.")
    assert page.evaluate("navigator.clipboard.readText()") == case_number
    receipt = download_receipt(page)
    assert f"Case number: {case_number}" in receipt
    assert re.search(r"^Date: .*20\d\d", receipt, re.M)
    assert "PIN: not in this receipt" in receipt and PIN not in receipt
    frames = next(h["value"] for h in sent["hashes"] if h["type"] == "vpdq")
    vpdq_name = hashlib.sha256(json.dumps(frames).encode()).hexdigest()  # as the bank names it
    for h in sent["hashes"]:
        line = f"vpdq {vpdq_name} ({len(frames)} frames)" if h["type"] == "vpdq" else f"{h['type']} {h['value']}"
        assert line in receipt
    assert f"Fingerprints sent ({len(sent['hashes'])}):" in receipt
    for path in (IMAGE, LOW_QUALITY, EXIF_IMAGE, VIDEO, PNG):
        assert path.name not in receipt
    page.check("#receipt-pin")
    assert f"PIN: {PIN}" in download_receipt(page)

    # Remembering the case number is opt-in, and unticking forgets it.
    assert driver.stored_on_device(page) == NOTHING_STORED
    page.check("#remember")
    assert driver.stored_on_device(page)["localStorage"] == {"localhash.caseNumber": case_number}
    page.uncheck("#remember")
    assert driver.stored_on_device(page) == NOTHING_STORED

    # 6. Status, before any partner has reported: received, and pending per partner.
    page.click("#done-status")
    assert page.input_value("#status-case") == case_number
    driver.check_status(page, case_number, "000000")
    assert "PIN is not right" in driver.error_text(page, "#status-error")
    driver.check_status(page, case_number)
    expect(page.locator("#status-state")).to_contain_text("Received on")
    n = len(sent["hashes"])
    expect(page.locator("#status-summary")).to_have_text(
        f"{PARTNER}: 0 of {n} fingerprints blocked, 0 not blocked, {n} with no report yet."
    )
    page.click("#status-details summary")
    reports = page.locator("#status-hashes li.report")
    expect(reports.first).to_be_visible()
    expect(reports).to_have_count(n)
    for text in reports.all_inner_texts():
        assert text == f"{PARTNER}: no report yet."

    # A platform fetches the hashes and reports: one PDQ blocked, the video's MD5 not blocked. Its vPDQ
    # comes only to a platform that asks for it, as python-threatexchange's VPDQSignal stores it.
    fetched = fetch_hashes(served, keys)
    fetched_values = {r["hashValue"] for r in fetched}
    pdq, video_md5 = kept[0]["pdq"], kept[3]["md5"]
    assert {pdq, video_md5} <= fetched_values
    assert {r["signalType"] for r in fetched} == {"ImagePDQ", "VideoMD5"}
    videos = fetch_hashes(served, keys, signalTypes="VideoVPDQ")
    # (the bank is shared with the other flow tests: Firefox's case holds its own vPDQ of the same video)
    assert frames in [json.loads(r["hashValue"]) for r in videos]
    feedback = {
        "count": 2,
        "hashFeedbacks": [
            {"hashValue": pdq, "feedbackValue": "Blocked", "tags": []},
            {"hashValue": video_md5, "feedbackValue": "NotBlocked", "tags": []},
        ],
    }
    answer = requests.post(
        served.origin + "/v1/SubmitFeedback", json=feedback, headers=partner_headers(keys), timeout=10
    )
    assert answer.status_code == 200, answer.text
    page.click("#status-check")
    expect(page.locator("#status-state")).to_contain_text("Active since")
    expect(page.locator("#status-summary")).to_have_text(
        f"{PARTNER}: 1 of {n} fingerprints blocked, 1 not blocked, {n - 2} with no report yet."
    )
    hash_item = page.locator("#status-hashes > li", has=page.locator("code", has_text=pdq))
    expect(hash_item).to_contain_text("Picture fingerprint (PDQ) of the picture itself")
    story = native["pdq_variants"]["fit_9x16_bars"]["hash"]
    story_item = page.locator("#status-hashes > li", has=page.locator("code", has_text=story))
    expect(story_item.locator(".hash-kind")).to_have_text("of a copy as apps fit or crop it")
    assert story_item.locator(".hash-kind").get_attribute("data-kind") == "fit_9x16_bars"
    expect(hash_item.locator("li.report")).to_have_text(re.compile(rf"^{PARTNER}: blocked\. .*reported on .*20\d\d"))
    md5_item = page.locator("#status-hashes > li", has=page.locator("code", has_text=video_md5))
    expect(md5_item.locator("li.report")).to_contain_text(f"{PARTNER}: not blocked.")
    vpdq_item = page.locator("#status-hashes > li", has=page.locator("code", has_text=vpdq_name))
    vpdq_title = f"Video fingerprint, of its pictures (vPDQ, {len(frames)} frames)"
    expect(vpdq_item.locator(".hash-type")).to_have_text(vpdq_title)
    expect(page.locator("#status-hashes li.report.pending")).to_have_count(n - 2)

    # 7. Withdraw: a confirmation first; "keep" sends nothing.
    posts_before = len([r for r in recorded if r["method"] == "POST"])
    page.click("#withdraw")
    expect(page.locator("#withdraw-confirm")).to_be_visible()
    page.click("#withdraw-no")
    expect(page.locator("#withdraw-confirm")).to_be_hidden()
    assert len([r for r in recorded if r["method"] == "POST"]) == posts_before
    page.click("#withdraw")
    page.click("#withdraw-yes")
    expect(page.locator("#status-state")).to_contain_text("Withdrawn on")
    expect(page.locator("#withdraw")).to_be_hidden()
    expect(page.locator("#announce")).to_have_text("Your case has been withdrawn.")
    statuses = {r["hashValue"]: r["hashStatus"] for r in fetch_hashes(served, keys)}
    assert statuses[pdq] == "Withdrawn"
    videos = fetch_hashes(served, keys, signalTypes="VideoVPDQ")
    assert [r["hashStatus"] for r in videos if json.loads(r["hashValue"]) == frames] == ["Withdrawn"]

    assert page.errors == []
    assert driver.stored_on_device(page) == NOTHING_STORED
    context.close()
    check_recording(recorded, served, [IMAGE, LOW_QUALITY, EXIF_IMAGE, VIDEO, PNG, SMALL_IMAGE, *bad_files], sent)


def expected_hashes(records: list[dict], dihedral: bool, variants: bool = False) -> list[dict]:
    """What hashesOf gives for these records, each hash once, in order (as the page builds it): the
    turned copies from turned pixels where the record has them, else Meta's derived ones."""
    out, seen = [], set()
    for r in records:
        pdq = []  # (value, quality, kind)
        if r.get("pdq"):
            pdq.append((r["pdq"], r["pdq_quality"], "original"))
        if r.get("pdq_oriented"):
            pdq.append((r["pdq_oriented"], r["pdq_quality"], "oriented"))
        if dihedral and r.get("pdq_turned"):
            pdq += [(turned["hash"], turned["quality"], name) for name, turned in r["pdq_turned"].items()]
        elif dihedral and r.get("pdq_dihedral"):
            pdq += [(value, r["pdq_quality"], name) for name, value in r["pdq_dihedral"].items()]
        if variants:
            pdq += [(framed["hash"], framed["quality"], name) for name, framed in r.get("pdq_variants", {}).items()]
        hashes = [{"type": "pdq", "value": value, "quality": quality, "kind": kind} for value, quality, kind in pdq]
        if r.get("vpdq"):
            hashes.append({"type": "vpdq", "value": r["vpdq"]})
        hashes += [{"type": "md5", "value": r["md5"]}, {"type": "sha256", "value": r["sha256"]}]
        for h in hashes:
            key = (h["type"], json.dumps(h["value"]))
            if key not in seen:
                seen.add(key)
                out.append(h)
    return out


def download_receipt(page) -> str:
    with page.expect_download() as download:
        page.click("#download-receipt")
    path = download.value.path()
    assert download.value.suggested_filename == f"localhash-receipt-{page.text_content('#case-number')}.txt"
    return open(path, encoding="utf-8").read()


def check_recording(recorded: list[dict], served, files, sent: dict) -> None:
    """Every request of the session went to the site's origin, and only allow-listed fields left."""
    contents = [f.read_bytes() for f in files if f.stat().st_size]
    site = urlsplit(served.url)
    assert any(urlsplit(r["url"]).path.endswith(".whl") for r in recorded), "the worker's requests were not seen"
    paths = []
    for r in recorded:
        if r["url"].startswith(f"blob:{served.origin}/"):  # thumbnails and receipts: memory, not network
            assert r["method"] == "GET"
            continue
        url = urlsplit(r["url"])
        assert (url.scheme, url.netloc) == (site.scheme, site.netloc), r["url"]
        for f in files:
            assert f.name not in r["url"]
        for h in sent["hashes"]:
            for value in h["value"] if h["type"] == "vpdq" else [h["value"]]:
                assert value.split(",")[0] not in r["url"]
        if r["method"] == "GET":
            assert r["body"] is None
            continue
        paths.append(url.path)
        body = r["body"]
        assert not leaks(body, contents), r["url"]
        for f in files:
            assert f.name.encode() not in body
        payload = json.loads(body)
        if url.path == "/api/v1/cases":
            assert set(payload) == {"pin", "consent", "hashes"}
            assert all(set(h) <= {"type", "value", "quality", "kind"} for h in payload["hashes"])
        else:
            assert payload == {"pin": PIN} or payload == {"pin": "000000"}, payload
    case = paths[3].split("/")[4]
    status, withdraw = f"/api/v1/cases/{case}/status", f"/api/v1/cases/{case}/withdraw"
    assert paths == ["/api/v1/cases"] * 3 + [status] * 3 + [withdraw, status]


def test_the_case_limit_holds_with_variants_and_says_what_to_do(chromium, served):
    """Eleven photos with every option come to more than the bank's 200 hashes per case: the page says
    so before the PIN step and points at the options; without the variants they fit."""
    require_corpus()
    photos = sorted(IMAGE.parent.glob("*.jpg"))  # 11 edits of one photo, each hashing apart
    context = chromium.new_context()
    page = driver.open_flow(context, served.url)
    driver.pass_eligibility(page)
    driver.choose_files(page, photos)
    assert all(r["ok"] for r in driver.wait_for_files(page))
    driver.to_review(page)
    page.check("#dihedral")
    page.check("#variants")
    page.click("#review-next")  # while they are being made, the page asks to wait
    assert driver.step(page) == "review"
    expect(page.locator("#variants-status")).to_have_text("The extra fingerprints are ready.", timeout=STEP_TIMEOUT_MS)
    count = len(driver.shown_body(page)["hashes"])
    assert count > 200
    expect(page.locator("#sent-count")).to_have_text(f"Fingerprints to send: {count}")
    page.click("#review-next")
    assert "too many fingerprints for one case (at most 200)" in driver.error_text(page, "#review-error")
    assert driver.step(page) == "review"
    assert page.evaluate("document.activeElement.id") == "variants"
    page.uncheck("#variants")
    assert len(driver.shown_body(page)["hashes"]) <= 200
    driver.to_pin(page)
    assert page.errors == []
    context.close()


def test_a_heif_gets_a_neutral_thumbnail_where_the_browser_cannot_draw_it(chromium, served, heif_samples):
    """Chromium cannot draw HEIF: its row shows the placeholder, never a broken image, and it still hashes."""
    context = chromium.new_context()
    page = driver.open_flow(context, served.url)
    driver.pass_eligibility(page)
    heif = heif_samples[0].path
    driver.choose_files(page, [heif, IMAGE])
    records = driver.wait_for_files(page)
    assert [r["ok"] for r in records] == [True, True] and records[0]["format"] == "HEIF"
    row = driver.file_item(page, heif.name)
    expect(row.locator(".thumb.placeholder")).to_have_count(1)
    expect(row.locator("img")).to_have_count(0)
    drawn = driver.file_item(page, IMAGE.name).locator("img.thumb")
    assert drawn.evaluate("(img) => img.complete && img.naturalWidth > 0")
    assert page.errors == []
    context.close()


def test_an_avif_gets_a_thumbnail_drawn_by_the_browser_and_hashes(chromium, served, avif_samples):
    """Chromium draws AVIF itself: its row shows the picture (as the person sees it, turned), and it hashes."""
    context = chromium.new_context()
    page = driver.open_flow(context, served.url)
    driver.pass_eligibility(page)
    avif = next(s for s in avif_samples if s.orientation == 6).path
    driver.choose_files(page, [avif, IMAGE])
    records = driver.wait_for_files(page)
    assert [r["ok"] for r in records] == [True, True] and records[0]["format"] == "AVIF"
    row = driver.file_item(page, avif.name)
    expect(row.locator(".thumb.placeholder")).to_have_count(0)
    drawn = row.locator("img.thumb")
    size = drawn.evaluate("(img) => img.decode().then(() => [img.naturalWidth, img.naturalHeight])")
    assert size == [records[0]["width"], records[0]["height"]]  # turned as its rotation says, as hashed
    assert page.errors == []
    context.close()
