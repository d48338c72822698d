"""The flow in WebKit (MiniBrowser over WebKitWebDriver) against the real bank: eligibility, the file picker,
review, PIN, send, status, withdrawal, and Quick exit; every request recorded by a proxy in front of WebKit."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
import requests
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.wait import WebDriverWait

from localhash import hash_bytes
from tests.conftest import native_fields, require_corpus
from tests.webkit_page import open_page, page_errors, recorded_webkit, shown_records, until

from .driver import IMAGE, PIN, PNG, VIDEO, as_stored
from .test_flow import CASE_NUMBER, WINDOW, expected_hashes
from .test_page import NEUTRAL

FILES = [IMAGE, PNG, VIDEO]


@pytest.fixture(scope="module")
def webkit_flow(served):
    """One WebKit session for the module; (driver, proxy)."""
    require_corpus()
    with recorded_webkit(served.origin) as session:
        yield session


def click(driver, selector: str) -> None:
    driver.find_element(By.CSS_SELECTOR, selector).click()


def type_into(driver, selector: str, text: str) -> None:
    driver.find_element(By.CSS_SELECTOR, selector).send_keys(text)


def text_of(driver, selector: str) -> str:
    return driver.execute_script("return document.querySelector(arguments[0]).textContent", selector)


def step(driver) -> str:
    return driver.execute_script("return document.body.dataset.step")


def open_flow(driver, url: str) -> None:
    open_page(driver, url)
    until(driver, "document.body.dataset.ready !== undefined")


def pass_eligibility(driver) -> None:
    for selector in ("#age-adult", "#consent-depicted", "#consent-intimate", "#consent-share", "#eligibility-next"):
        click(driver, selector)
    boxes = "return [...document.querySelectorAll('#step-eligibility input')].map(i => i.checked)"
    ticked = driver.execute_script(boxes)
    assert step(driver) == "files", (text_of(driver, "#eligibility-error"), ticked)


def test_the_whole_flow(webkit_flow, served):
    driver, proxy = webkit_flow
    first = len(proxy.requests)
    cases_before = served.count("cases")
    open_flow(driver, served.url)
    pass_eligibility(driver)

    # 2. Files, through the picker: Element Send Keys on a file input hands WebKit the local paths.
    type_into(driver, "#files", "\n".join(str(f) for f in FILES))
    until(
        driver,
        "document.querySelectorAll('#results li').length === arguments[0]"
        " && !document.querySelector('#results li.pending')",
        len(FILES),
    )
    states = driver.execute_script("return [...document.querySelectorAll('#results li')].map((li) => li.className)")
    assert all("ok" in state.split() for state in states), states
    records = shown_records(driver)
    for path, record in zip(FILES, records, strict=True):
        shown = native_fields(record)
        if path == VIDEO:  # Debian's WebKitGTK decodes no H.264 (no GStreamer parsers): digests, and says why
            assert shown.pop("vpdq_error")["code"] == "unsupported_codec"
        assert shown == hash_bytes(path.read_bytes(), dihedral=True), path.name

    # 3. Review: the exact body.
    click(driver, "#files-next")
    assert step(driver) == "review"
    shown = json.loads(text_of(driver, "#sent-json"))
    assert list(shown) == ["hashes", "consent"]
    assert shown["hashes"] == expected_hashes(records, dihedral=False)

    # 4. PIN and send.
    click(driver, "#review-next")
    assert step(driver) == "pin"
    type_into(driver, "#pin-1", PIN)
    type_into(driver, "#pin-2", PIN)
    click(driver, "#send")
    until(driver, "!document.querySelector('#step-done').hidden")
    case_number = text_of(driver, "#case-number")
    assert CASE_NUMBER.match(case_number), case_number
    assert served.count("cases") == cases_before + 1

    # 5. Status, 6. Withdraw.
    click(driver, "#done-status")
    type_into(driver, "#status-pin", PIN)
    click(driver, "#status-check")
    assert until(driver, "document.querySelector('#status-state').dataset.state") == "received"
    click(driver, "#withdraw")
    click(driver, "#withdraw-yes")
    until(driver, "document.querySelector('#status-state').dataset.state === 'withdrawn'")
    assert page_errors(driver) == []

    # What the bank holds is what the page showed.
    answer = requests.post(f"{served.origin}/api/v1/cases/{case_number}/status", json={"pin": PIN}, timeout=10).json()
    assert answer["status"] == "withdrawn"
    stored = sorted((h["type"], h["value"], h.get("quality")) for h in answer["hashes"])
    assert stored == as_stored(shown["hashes"])

    check_recording(proxy.requests[first:], served, case_number, shown)


def check_recording(recorded: list[dict], served, case_number: str, shown: dict) -> None:
    """Every request went to the site's origin, the worker's included; only allow-listed fields left."""
    contents = [f.read_bytes() for f in FILES]
    assert [r["url"] for r in recorded if not r["url"].startswith(served.origin + "/")] == []
    assert any(r["url"].endswith(".whl") for r in recorded), "the worker's fetches did not go through the proxy"
    paths = []
    for r in recorded:
        assert not any(f.name in r["url"] for f in FILES), r["url"]
        body = r["body"]
        assert not any(body[i : i + WINDOW] in data for i in range(len(body) - WINDOW + 1) for data in contents)
        if r["method"] == "GET":
            assert body == b"", r["url"]
            continue
        paths.append(urlsplit(r["url"]).path)
        for f in FILES:
            assert f.name.encode() not in body
        payload = json.loads(body)
        if paths[-1] == "/api/v1/cases":
            assert payload == {"hashes": shown["hashes"], "pin": PIN, "consent": shown["consent"]}
        else:
            assert payload == {"pin": PIN}, payload
    case = f"/api/v1/cases/{case_number}"
    assert paths == ["/api/v1/cases", f"{case}/status", f"{case}/withdraw", f"{case}/status"]


@pytest.mark.parametrize("how", ["button", "escape twice"])
def test_quick_exit_leaves_nothing_to_go_back_to(webkit_flow, served, how):
    driver, proxy = webkit_flow
    driver.switch_to.new_window("window")  # a history of its own
    open_flow(driver, served.url)
    pass_eligibility(driver)
    asked_before = len([r for r in proxy.requests if r["method"] == "TLS"])
    if how == "button":
        click(driver, "#quick-exit")
    else:
        ActionChains(driver).send_keys(Keys.ESCAPE).send_keys(Keys.ESCAPE).perform()
    # WebDriver's URL, not the page's location: WebKit shows its error page for the refused load.
    WebDriverWait(driver, 30).until(lambda d: d.current_url == NEUTRAL, f"still on {driver.current_url}")
    # The neutral site is on the internet, which tests never reach: the proxy refuses it. That WebKit
    # asked for an https origin is all the proxy sees (tests/recording_proxy.py says why).
    asked = lambda _: len([r for r in proxy.requests if r["method"] == "TLS"]) > asked_before  # noqa: E731
    WebDriverWait(driver, 30).until(asked, "WebKit never asked the proxy for the neutral site")
    driver.back()
    assert not driver.current_url.startswith(served.origin), driver.current_url
    assert driver.execute_script("return history.length") <= 2
    driver.close()
    driver.switch_to.window(driver.window_handles[0])


def test_one_escape_is_not_an_exit(webkit_flow, served):
    driver, _ = webkit_flow
    open_flow(driver, served.url)
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    ActionChains(driver).pause(1.6).send_keys(Keys.ESCAPE).pause(0.3).perform()  # beyond the two-presses window
    assert driver.current_url == served.url
    assert page_errors(driver) == []
