"""The page around the flow: readable without JavaScript, never waiting for Pyodide, quick exit,
and the language taken from the browser and switchable without losing anything."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import require_corpus

from . import driver
from .driver import IMAGE

NEUTRAL = "https://www.bbc.com/weather"


def test_readable_without_javascript(chromium, served):
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(served.url)
    expect(page.locator("h1")).to_have_text("Protect your intimate images without uploading them")
    for text in ("How it works", "Who can use it", "What is never sent", "Only the fingerprints are sent"):
        expect(page.locator("#intro")).to_contain_text(text)
    expect(page.locator("noscript p")).to_be_visible()
    expect(page.locator("noscript p")).to_contain_text("needs JavaScript, which runs only on this device")
    expect(page.locator("#quick-exit")).to_have_attribute("href", NEUTRAL)  # a plain link still leaves
    for hidden in ("#step-eligibility", "#step-files", "#engine", "#lang", "#steps"):
        expect(page.locator(hidden)).to_be_hidden()
    context.close()


def test_first_paint_and_the_first_steps_do_not_wait_for_pyodide(chromium, served):
    require_corpus()
    context = chromium.new_context()
    held = []
    context.route("**/*.whl", lambda route: held.append(route))  # the packages hang until released
    page = driver.open_flow(context, served.url)
    assert page.evaluate("performance.getEntriesByName('first-contentful-paint').length") == 1
    expect(page.locator("#engine-progress")).to_be_visible()
    expect(page.locator("#engine-status")).to_contain_text("Loading the fingerprint tool on this device")
    driver.pass_eligibility(page)  # while the runtime loads
    expect(page.locator("#engine-status")).to_contain_text("(2 of 3)", timeout=driver.STEP_TIMEOUT_MS)
    assert page.evaluate("document.getElementById('engine-progress').value") == 2
    driver.choose_files(page, [IMAGE])
    expect(driver.file_item(page, IMAGE.name)).to_contain_text("Waiting…")
    assert held, "the wheels were never requested"
    for route in held:
        route.continue_()
    context.unroute("**/*.whl")
    [record] = driver.wait_for_files(page)
    assert record["ok"]
    expect(page.locator("#engine-status")).to_have_text(
        "The fingerprint tool is ready. Your files stay on this device."
    )
    expect(page.locator("#engine-progress")).to_be_hidden()
    context.close()


@pytest.mark.parametrize("locale", ["en-GB", "fr-FR", "de-DE"])
def test_the_tools_progress_never_moves_the_page_under_a_finger(chromium, served, locale):
    """The stages' messages differ in length; if the box resized, a tap meant for one choice could land on
    the next (a WebKit test once ticked nothing while the page moved)."""
    context = chromium.new_context(locale=locale, viewport={"width": 320, "height": 640})
    held = []
    context.route("**/*.whl", lambda route: held.append(route))
    page = driver.open_flow(context, served.url)
    page.evaluate(
        """() => {
          const engine = document.getElementById("engine");
          const where = () => document.getElementById("age-minor").getBoundingClientRect().top + scrollY;
          window.__seen = [[engine.dataset.stage, where()]];
          new MutationObserver(() => __seen.push([engine.dataset.stage, where()]))
            .observe(engine, { attributes: true, attributeFilter: ["data-stage"] });
        }"""
    )
    expect(page.locator("#engine")).to_have_attribute("data-stage", "packages", timeout=driver.STEP_TIMEOUT_MS)
    for route in held:
        route.continue_()
    expect(page.locator("#engine")).to_have_attribute("data-stage", "ready", timeout=driver.STEP_TIMEOUT_MS)
    seen = page.evaluate("__seen")
    assert {"packages", "ready"} <= {stage for stage, _ in seen}, seen
    assert len({top for _, top in seen}) == 1, seen
    context.close()


def test_checking_a_case_stops_the_tools_download_and_going_back_starts_it_again(chromium, served):
    """A visit only to check or withdraw a case does not pay for the fingerprint tool's download."""
    context = chromium.new_context()
    held, wheel_requests = [], []

    def hold(route):
        wheel_requests.append(route.request.url)
        held.append(route)

    context.route("**/*.whl", hold)
    page = driver.open_flow(context, served.url)
    expect(page.locator("#engine-status")).to_contain_text("(2 of 3)", timeout=driver.STEP_TIMEOUT_MS)
    assert held, "the wheels were never requested"
    page.evaluate("() => { window.readyBeforePause = window.localhash.ready.then(() => 'ready'); }")
    page.click("#open-status")
    assert page.get_attribute("body", "data-stage") == "idle"
    for route in held:  # the worker that asked for them is gone
        try:
            route.continue_()
        except Exception:  # noqa: BLE001  Playwright may already know the request was cancelled
            pass
    requested_before = len(wheel_requests)
    page.wait_for_timeout(3000)
    assert len(wheel_requests) == requested_before, "the download went on while the person checked a case"
    stages = [entry["stage"] for entry in page.evaluate("window.localhash.stageLog")]
    assert stages[-1] == "idle" and "ready" not in stages, stages

    page.evaluate("window.localhash.restartWorker()")  # while paused: starts nothing
    assert page.get_attribute("body", "data-stage") == "idle"

    context.unroute("**/*.whl")
    page.click("#step-status [data-back]")
    expect(page.locator("#engine-status")).to_have_text(
        "The fingerprint tool is ready. Your files stay on this device.", timeout=driver.STEP_TIMEOUT_MS
    )
    assert page.evaluate("window.readyBeforePause") == "ready", "a promise taken before the pause still resolves"
    assert len(page.workers) == 1, "a stopped worker was left running"
    assert page.errors == []
    context.close()


@pytest.fixture
def exit_context(chromium):
    """A context where the neutral site is a local stand-in: the test never touches the internet."""
    context = chromium.new_context()
    context.route(
        "https://www.bbc.com/**",
        lambda route: route.fulfill(content_type="text/html", body="<title>Weather</title><p>Weather"),
    )
    yield context
    context.close()


@pytest.mark.parametrize("how", ["button", "escape twice"])
def test_quick_exit_leaves_nothing_to_go_back_to(exit_context, served, how):
    page = driver.open_flow(exit_context, served.url)
    driver.pass_eligibility(page)
    if how == "button":
        page.click("#quick-exit")
    else:
        page.focus("#files")
        page.keyboard.press("Escape")
        page.keyboard.press("Escape")
    page.wait_for_url(NEUTRAL)
    expect(page.locator("p")).to_have_text("Weather")
    page.go_back()
    assert page.url != served.url and not page.url.startswith(served.origin), page.url
    assert page.evaluate("history.length") <= 2


def test_one_escape_is_not_an_exit(exit_context, served):
    page = driver.open_flow(exit_context, served.url)
    page.keyboard.press("Escape")
    page.wait_for_timeout(1600)  # longer than the two-presses window
    page.keyboard.press("Escape")
    page.wait_for_timeout(300)
    assert page.url == served.url


@pytest.mark.parametrize(
    ("locale", "lang", "heading"),
    [
        ("de-AT", "de", "Schützen Sie Ihre intimen Bilder, ohne sie hochzuladen"),
        ("nl-BE", "nl", "Bescherm je intieme beelden zonder ze te uploaden"),
        ("fr-CA", "fr", "Protégez vos images intimes sans les téléverser"),
        ("es-ES", "en", "Protect your intimate images without uploading them"),
    ],
)
def test_the_language_comes_from_the_browser(chromium, served, locale, lang, heading):
    context = chromium.new_context(locale=locale)
    page = driver.open_flow(context, served.url)
    expect(page.locator("h1")).to_have_text(heading)
    assert page.get_attribute("html", "lang") == lang
    assert page.input_value("#lang") == lang
    context.close()


def test_switching_language_keeps_everything(chromium, served):
    context = chromium.new_context(locale="en-US")
    page = driver.open_flow(context, served.url)
    page.check("#age-adult")
    page.check("#consent-depicted")
    page.click("#eligibility-next")
    expect(page.locator("#eligibility-error")).to_contain_text("Please tick all three boxes")
    page.select_option("#lang", "de")
    expect(page.locator("#eligibility-error")).to_contain_text("Bitte kreuzen Sie alle drei Kästchen an")
    expect(page.locator("#quick-exit")).to_have_text("Schnell verlassen")
    assert page.title() == "localhash: Schützen Sie Ihre intimen Bilder, ohne sie hochzuladen"
    assert page.is_checked("#age-adult") and page.is_checked("#consent-depicted")
    assert not page.is_checked("#consent-intimate")
    page.select_option("#lang", "fr")
    expect(page.locator("#eligibility-next")).to_have_text("Continuer")
    page.check("#consent-intimate")
    page.check("#consent-share")
    page.click("#eligibility-next")
    expect(page.locator("#files-title")).to_have_text("Étape 2 sur 4 : choisissez des photos et des vidéos")
    assert page.errors == []
    context.close()
