"""Steps of the victim's flow, driven the way a person does it (clicks, typing, the file picker)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.conftest import CORPUS, PDQ_IMAGES

STEP_TIMEOUT_MS = 120_000  # booting Pyodide on a 2-core machine takes ~10 s; hashing a few files more
PIN = "482913"

IMAGE = PDQ_IMAGES / "bridge-mods/blur-a-little.jpg"
LOW_QUALITY = PDQ_IMAGES / "pytx-resources/I16.png"  # PDQ quality 36
EXIF_IMAGE = PDQ_IMAGES / "reg-test-input/exif-rotn/exif-rotn-6.jpg"  # EXIF camera fields, rotated
PNG = PDQ_IMAGES / "misc-images/modes/RGBA.png"
SMALL_IMAGE = PDQ_IMAGES / "misc-images/wee.jpg"
VIDEO = CORPUS / "vpdq/videos/doorknob-hd-no-bar.mp4"


def open_flow(context, url: str) -> Page:
    """A new page on the site with the flow wired up (the hashing worker may still be booting)."""
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector("body[data-ready]")
    return page


def step(page: Page) -> str:
    return page.get_attribute("body", "data-step")


def pass_eligibility(page: Page) -> None:
    page.check("#age-adult")
    for box in ("#consent-depicted", "#consent-intimate", "#consent-share"):
        page.check(box)
    page.click("#eligibility-next")
    assert step(page) == "files"


def choose_files(page: Page, paths: list[Path]) -> None:
    page.set_input_files("#files", [str(p) for p in paths])


def drop_file(page: Page, path: Path, mime: str) -> None:
    """Drag and drop: a real DataTransfer holding the file, dropped on the drop zone."""
    transfer = page.evaluate_handle(
        """([b64, name, type]) => {
             const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
             const transfer = new DataTransfer();
             transfer.items.add(new File([bytes], name, { type }));
             return transfer;
           }""",
        [base64.b64encode(path.read_bytes()).decode(), path.name, mime],
    )
    page.dispatch_event("#drop-zone", "dragenter", {"dataTransfer": transfer})
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})


def wait_for_files(page: Page) -> list[dict]:
    """Every listed file's record, once none is pending."""
    page.wait_for_function(
        "() => document.querySelector('#results li') && !document.querySelector('#results li.pending')",
        timeout=STEP_TIMEOUT_MS,
    )
    return [json.loads(r) for r in page.eval_on_selector_all("#results li", "els => els.map(e => e.dataset.record)")]


def records(page: Page) -> list[dict]:
    """Every listed file's record as the page holds it now."""
    return [json.loads(r) for r in page.eval_on_selector_all("#results li", "els => els.map(e => e.dataset.record)")]


def file_item(page: Page, name: str):
    return page.locator("#results li", has=page.locator(".name", has_text=name))


def to_review(page: Page) -> dict:
    page.click("#files-next")
    assert step(page) == "review"
    return shown_body(page)


def shown_body(page: Page) -> dict:
    return json.loads(page.text_content("#sent-json"))


def to_pin(page: Page) -> None:
    page.click("#review-next")
    assert step(page) == "pin"


def type_pin(page: Page, first: str, second: str | None = None) -> None:
    page.fill("#pin-1", first)
    page.fill("#pin-2", first if second is None else second)


def send(page: Page) -> None:
    page.click("#send")


def wait_for_case(page: Page) -> str:
    page.wait_for_selector("#step-done:not([hidden])", timeout=30_000)
    return page.text_content("#case-number")


def check_status(page: Page, case_number: str, pin: str = PIN) -> None:
    page.fill("#status-case", case_number)
    page.fill("#status-pin", pin)
    page.click("#status-check")


def error_text(page: Page, selector: str) -> str:
    """The text of an error element, which must be a live region (announced when it changes)."""
    element = page.locator(selector)
    expect(element).not_to_be_empty()
    assert element.get_attribute("role") == "alert" or element.get_attribute("aria-live"), selector
    return element.inner_text()


def stored_on_device(page: Page) -> dict:
    """Everything the page keeps on the device: localStorage, sessionStorage, cookies, IndexedDB."""
    return page.evaluate(
        """async () => ({
             localStorage: Object.fromEntries(Object.entries(localStorage)),
             sessionStorage: Object.fromEntries(Object.entries(sessionStorage)),
             cookies: document.cookie,
             indexedDB: (await indexedDB.databases()).map((d) => d.name),
           })"""
    )


NOTHING_STORED = {"localStorage": {}, "sessionStorage": {}, "cookies": "", "indexedDB": []}


def as_stored(hashes: list[dict]) -> list[tuple]:
    """Hashes sent (type, value, quality) as the case's status lists them, sorted: a vPDQ's value is the
    SHA-256 of its frames as python-threatexchange writes them (json.dumps), as the bank names it."""

    def stored(h: dict) -> tuple:
        if h["type"] == "vpdq":
            return ("vpdq", hashlib.sha256(json.dumps(h["value"]).encode()).hexdigest(), None)
        return (h["type"], h["value"], h.get("quality"))

    return sorted(map(stored, hashes))
