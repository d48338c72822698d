"""The WebKit tests' side of a page over WebDriver classic: a recorded session, page errors, waits, async calls."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator

from selenium.webdriver.support.wait import WebDriverWait

from site_build.webkit import webkit
from tests.recording_proxy import RecordingProxy

STEP_TIMEOUT_S = 120  # Pyodide boots in 7-15 s in WebKit on 2 shared cores; hashing a few files takes more

# WebKitWebDriver has no log endpoint and no BiDi, and WebDriver classic cannot run a script before
# the page's own (nor may the site's CSP run an inline one), so the listeners go in right after
# the load: an error while the page's scripts first run shows as a step that never happens instead.
COLLECT_ERRORS = """
window.__errors = [];
addEventListener("error", (e) => __errors.push(`error: ${e.message} (${e.filename}:${e.lineno})`));
addEventListener("unhandledrejection", (e) => __errors.push(`unhandled rejection: ${e.reason}`));
document.addEventListener("securitypolicyviolation", (e) =>
  __errors.push(`CSP: ${e.violatedDirective} ${e.blockedURI}`));
"""


@contextlib.contextmanager
def recorded_webkit(origin: str) -> Iterator[tuple]:
    """(driver, proxy): a fresh WebKit whose every request goes through a RecordingProxy that
    forwards only to `origin`."""
    proxy = RecordingProxy(origin)
    try:
        with webkit(proxy=proxy.capability()) as driver:
            yield driver, proxy
    finally:
        proxy.close()


def open_page(driver, url: str) -> None:
    """Load `url` (WebDriver returns after the load event) and start collecting the page's errors."""
    driver.get(url)
    driver.execute_script(COLLECT_ERRORS)


def page_errors(driver) -> list[str]:
    return driver.execute_script("return window.__errors")


def until(driver, expression: str, *args, timeout: float = STEP_TIMEOUT_S):
    """The first truthy value of a JavaScript expression over `args` (polled: WebKitWebDriver
    cannot wait inside the page)."""
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(
        lambda d: d.execute_script(f"return ({expression});", *args),
        f"timed out after {timeout} s waiting for {expression}",
    )


def call(driver, function: str, *args):
    """Await `function(...args)` in the page (a JavaScript async function's source) and return its
    value; a rejection becomes an AssertionError carrying the page's message."""
    outcome = driver.execute_async_script(
        f"""const done = arguments[arguments.length - 1];
        Promise.resolve()
          .then(() => ({function})(...Array.prototype.slice.call(arguments, 0, -1)))
          .then((value) => done({{ value }}))
          .catch((error) => done({{ error: String((error && error.stack) || error) }}));""",
        *args,
    )
    if "error" in outcome:
        raise AssertionError(f"the page threw: {outcome['error']}")
    return outcome.get("value")


HASH_FILE = """async (b64, options) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return await window.localhash.hashFile(new Blob([bytes]), options);
}"""


def hash_in_page(driver, data: bytes, **options) -> dict:
    """The record window.localhash.hashFile gives for these bytes."""
    return call(driver, HASH_FILE, base64.b64encode(data).decode(), options)


def shown_records(driver) -> list[dict]:
    """The record behind each file in the page's result list."""
    found = driver.execute_script("return [...document.querySelectorAll('#results li')].map((e) => e.dataset.record)")
    return [json.loads(record) for record in found]
