"""Engines side by side: WebKit (every iPhone browser) against Chromium, time to ready and a 12 MP JPEG.

Interleaved rounds in one run, a fresh browser of each engine per round (Chromium, then WebKit), on
the same built site; the ratios are medians of the rounds. Our 2-core machines are shared and drift
by 20-30 % within minutes, so only the ratio measured here is worth comparing with a goal.
"""

from __future__ import annotations

import base64
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "py")]

from bench.browser import serve_built_site  # noqa: E402
from bench.native import make_images  # noqa: E402
from site_build.system import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from site_build.webkit import webkit  # noqa: E402

RUNS = 5
GOALS = {"ready": 1.5, "12 MP JPEG": 1.5}  # WebKit / Chromium, issue 9

# One async function, run the same way in both engines: the time from navigation to ready, then
# the first hash of the file (as a person's first photo) in ms.
MEASURE = """async (b64) => {
  await window.localhash.ready;
  const ready = window.localhash.stageLog.at(-1).ms;
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const t = performance.now();
  const record = await window.localhash.hashFile(new Blob([bytes]));
  return { ready, hash: performance.now() - t, ok: record.ok, decodedBy: record.decoded_by };
}"""


def in_chromium(playwright, url: str, b64: str) -> dict:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        page = browser.new_page()
        page.goto(url)
        return page.evaluate(MEASURE, b64)
    finally:
        browser.close()


def in_webkit(url: str, b64: str) -> dict:
    with webkit() as driver:
        driver.get(url)
        outcome = driver.execute_async_script(
            f"const done = arguments[arguments.length - 1];"
            f"({MEASURE})(arguments[0]).then(done, (e) => done({{ error: String(e) }}));",
            b64,
        )
    if "error" in outcome:
        raise RuntimeError(f"WebKit: {outcome['error']}")
    return outcome


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        _, server, url = serve_built_site(Path(tmp))
        b64 = base64.b64encode(make_images(Path(tmp))["12MP JPEG"].read_bytes()).decode()
        runs: dict[str, list[dict]] = {"Chromium": [], "WebKit": []}
        with sync_playwright() as playwright:
            for _ in range(RUNS):
                runs["Chromium"].append(in_chromium(playwright, url, b64))
                runs["WebKit"].append(in_webkit(url, b64))
        server.shutdown()
    for engine, results in runs.items():
        assert all(r["ok"] and r["decodedBy"] == "browser" for r in results), (engine, results)
    print(f"WebKit (MiniBrowser) against Chromium, median of {RUNS} interleaved rounds, a fresh browser each")
    print(f"{'':<12} {'Chromium':>9} {'WebKit':>9} {'ratio':>6}")
    for label, key, unit in (("ready", "ready", 1000), ("12 MP JPEG", "hash", 1)):
        chromium = statistics.median(r[key] for r in runs["Chromium"]) / unit
        webkit_ = statistics.median(r[key] for r in runs["WebKit"]) / unit
        shown = "s" if unit == 1000 else "ms"
        fmt = ".2f" if unit == 1000 else ".0f"
        print(
            f"{label:<12} {chromium:>8{fmt}}{shown} {webkit_:>8{fmt}}{shown} {webkit_ / chromium:>6.2f}"
            f"  (goal <= {GOALS[label]})"
        )
    for engine, results in runs.items():
        print(f"{engine} rounds, ready s: {[round(r['ready'] / 1000, 2) for r in results]}")


if __name__ == "__main__":
    main()
