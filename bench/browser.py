"""Browser benchmark: time to ready, bytes on the wire, per-image time in Chromium vs native, wasm heap.

A fresh Chromium per timed run (2-core machines: a browser's background compile threads from an
earlier run would otherwise steal time); median of RUNS. Prints ratios measured in this one run.
"""

from __future__ import annotations

import gzip
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "py")]

from bench.native import make_images  # noqa: E402
from localhash import hash_bytes  # noqa: E402
from site_build.dist import build  # noqa: E402
from site_build.serve import make_server  # noqa: E402
from site_build.system import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

RUNS = 5
GOALS = {"ready": 3.0, "12MP JPEG": 1.4}
# What a first visit downloads before the hasher is ready (config.json is fetched only on submit).
LOADED = [
    "index.html",
    "style.css",
    "submit.js",
    "hasher.js",
    "app.js",
    "worker.js",
    "pyodide/pyodide.mjs",
    "pyodide/pyodide.asm.js",
    "pyodide/pyodide.asm.wasm",
    "pyodide/python_stdlib.zip",
    "pyodide/pyodide-lock.json",
]

HASH_JS = """async (b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const t = performance.now();
  const record = await window.localhash.hashFile(new Blob([bytes]));
  return {ms: performance.now() - t, ok: record.ok, heap: await window.localhash.wasmHeapBytes()};
}"""


def wire_sizes(site: Path) -> dict[str, int]:
    files = LOADED + [p.relative_to(site).as_posix() for p in (site / "pyodide").glob("*.whl")]
    raw = sum((site / f).stat().st_size for f in files)
    gz = sum(len(gzip.compress((site / f).read_bytes(), 9)) for f in files)
    sizes = {"raw": raw, "gzip": gz}
    try:
        import brotli

        sizes["brotli"] = sum(len(brotli.compress((site / f).read_bytes())) for f in files)
    except ImportError:
        pass
    return sizes


def main() -> None:
    import base64

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        site = build(ROOT, Path(tmp) / "dist")
        server = make_server(site, "127.0.0.1", 0, "api/")
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        images = make_images(Path(tmp))
        with sync_playwright() as playwright:

            def fresh_page():
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(url)
                page.evaluate("window.localhash.ready")
                return browser, page

            ready = []
            for _ in range(RUNS):
                browser, page = fresh_page()
                ready.append(page.evaluate("window.localhash.stageLog")[-1]["ms"] / 1000)
                browser.close()
            print(
                f"navigation to ready: median {statistics.median(ready):.2f} s of {RUNS} "
                f"(goal <= {GOALS['ready']} s: ratio {statistics.median(ready) / GOALS['ready']:.2f})"
            )
            sizes = wire_sizes(site)
            print(
                "bytes on the wire for a first visit: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items())
            )

            print(f"\nper image, all hashes, median of {RUNS}, fresh browser per run:")
            print(f"{'image':<12} {'Chromium':>9} {'native':>8} {'ratio':>6} {'wasm heap after':>16}")
            for label, path in images.items():
                data = path.read_bytes()
                native = []
                for _ in range(RUNS):
                    t = time.perf_counter()
                    hash_bytes(data)
                    native.append(time.perf_counter() - t)
                b64 = base64.b64encode(data).decode()
                runs, heap = [], 0
                for _ in range(RUNS):
                    browser, page = fresh_page()
                    result = page.evaluate(HASH_JS, b64)
                    assert result["ok"], label
                    runs.append(result["ms"] / 1000)
                    heap = result["heap"]
                    browser.close()
                ratio = statistics.median(runs) / statistics.median(native)
                goal = f" (goal <= {GOALS[label]})" if label in GOALS else ""
                print(
                    f"{label:<12} {statistics.median(runs) * 1000:>7.0f}ms {statistics.median(native) * 1000:>6.0f}ms "
                    f"{ratio:>6.2f}{goal} {heap / 2**20:>12.0f} MiB"
                )
        server.shutdown()


if __name__ == "__main__":
    main()
