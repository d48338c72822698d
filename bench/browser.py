"""Browser benchmark: time to ready, bytes on the wire, per-image time in Chromium vs native, wasm heap.

A fresh Chromium per timed run (2-core machines: a browser's background compile threads from an
earlier run would otherwise steal time); median of RUNS. Prints ratios measured in this one run.

Each round runs native and browser back to back (our shared machines drift by 20-30 % within
minutes). Like is compared with like:
- first file: a fresh browser hashing the file as soon as the page is ready, against
  `hash_bytes` in a fresh CPython process (imports done, nothing hashed yet: what
  `python -m localhash hash` does);
- warm: the same file again in that browser, against a CPython process that has hashed it.
Every fresh browser also gives a time to ready.
"""

from __future__ import annotations

import gzip
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "py")]

from bench.native import make_images  # noqa: E402
from localhash import hash_bytes  # noqa: E402
from site_build.dist import build, runtime_dir  # noqa: E402
from site_build.serve import make_server  # noqa: E402
from site_build.system import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

RUNS = 5
GOALS = {"ready": 3.0, "12MP JPEG": 1.4}
HEAP_GOALS_MIB = {"48MP JPEG": 600, "200MP JPEG": 1024}  # issue 11
# What a first visit downloads before the hasher is ready (config.json is fetched only on submit).
LOADED = [
    "index.html",
    "style.css",
    "submit.js",
    "hasher.js",
    "app.js",
    "worker.js",
    "jpeg.js",
]
# ... and from the runtime folder (pyodide-<16 hex>), with every wheel in it
RUNTIME_LOADED = ["pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"]

HASH_JS = """async (arg) => {
  const [path, options] = Array.isArray(arg) ? arg : [arg, {}];  // a path, or [path, hashFile's options]
  const blob = await (await fetch(path)).blob();
  const t = performance.now();
  const record = await window.localhash.hashFile(blob, options);
  return {ms: performance.now() - t, ok: record.ok, heap: window.localhash.heapAfterLastFile};
}"""


def wire_sizes(site: Path) -> dict[str, int]:
    runtime = runtime_dir(site)
    files = LOADED + [f"{runtime.name}/{name}" for name in RUNTIME_LOADED]
    files += [p.relative_to(site).as_posix() for p in runtime.glob("*.whl")]
    raw = sum((site / f).stat().st_size for f in files)
    gz = sum(len(gzip.compress((site / f).read_bytes(), 9)) for f in files)
    sizes = {"raw": raw, "gzip": gz}
    try:
        import brotli

        sizes["brotli"] = sum(len(brotli.compress((site / f).read_bytes())) for f in files)
    except ImportError:
        pass
    return sizes


NATIVE_FIRST_CALL = """
import sys, time
from localhash import hash_bytes
data = open(sys.argv[1], "rb").read()
t = time.perf_counter(); hash_bytes(data); print(time.perf_counter() - t)
"""


def native_first_call(path: Path) -> float:
    """hash_bytes on the file in a fresh process: imports done, nothing hashed before."""
    env = {"PYTHONPATH": str(ROOT / "py")}
    done = subprocess.run(
        [sys.executable, "-c", NATIVE_FIRST_CALL, str(path)], capture_output=True, text=True, check=True, env=env
    )
    return float(done.stdout)


def native_warm(data: bytes) -> float:
    hash_bytes(data)
    t = time.perf_counter()
    hash_bytes(data)
    return time.perf_counter() - t


def with_phone_photos(images: dict[str, Path], folder: Path) -> dict[str, Path]:
    """The 12 MP picture again as a HEIC (pillow-heif, quality 90, as phones write; the browser decodes
    it with libheif in wasm, which it downloads for the first HEIF only; native uses pillow-heif), and
    enlarged as a JPEG to 48 MP (a 48 MP phone's full-resolution mode) and to 200 MP (16320x12240,
    Samsung's Galaxy Ultra "200 MP" mode), with fresh sensor-like noise so that the files weigh what
    such photos weigh (the 200 MP one 47 MB)."""
    import numpy as np
    from PIL import Image

    twelve = Image.open(images["12MP JPEG"])
    heic = folder / "12MP.heic"
    twelve.save(heic, "HEIF", quality=90)
    out = {**images, "12MP HEIC": heic}
    rng = np.random.default_rng(2026)
    for label, size in (("48MP JPEG", (8480, 5664)), ("200MP JPEG", (16320, 12240))):
        pixels = np.asarray(twelve.resize(size, Image.Resampling.BICUBIC)).astype(np.int16)
        for top in range(0, size[1], 1024):  # in slices: the 200 MP picture alone is 600 MB
            pixels[top : top + 1024] += rng.integers(-8, 9, pixels[top : top + 1024].shape, dtype=np.int16)
        out[label] = folder / f"{label.split()[0]}.jpg"
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out[label], "JPEG", quality=90)
        del pixels
    return out


def serve_built_site(folder: Path, root: Path = ROOT):
    """A fresh build of the site of `root` (by default this tree) in `folder`, with this tree's Pyodide wheels,
    served on a free loopback port: (site, server, url)."""
    site = build(root, folder / "dist", cache_dir=ROOT / ".cache" / "pyodide")
    server = make_server(site, "127.0.0.1", 0, "api/")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return site, server, f"http://127.0.0.1:{server.server_address[1]}/"


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        site, server, url = serve_built_site(Path(tmp))
        # The pictures inside the served folder: the page fetches each (base64 through the driver would
        # copy 200 MP's 47 MB several times).
        (site / "bench").mkdir()
        images = with_phone_photos(make_images(site / "bench"), site / "bench")
        ready: list[float] = []
        with sync_playwright() as playwright:

            def fresh_page():
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(url)
                page.evaluate("window.localhash.ready")
                ready.append(page.evaluate("window.localhash.stageLog")[-1]["ms"] / 1000)
                return browser, page

            for _ in range(RUNS):
                browser, _page = fresh_page()
                browser.close()

            print(f"per image, all hashes, median of {RUNS} rounds (a fresh browser each), native in the same rounds")
            print(
                f"{'image':<10} {'first file: Chromium':>20} {'native':>7} {'ratio':>6}   "
                f"{'warm: Chromium':>14} {'native':>7} {'ratio':>6}   {'wasm heap after':>15}"
            )
            for label, path in images.items():
                data = path.read_bytes()
                served = path.relative_to(site).as_posix()
                runs: dict[str, list[float]] = {"first": [], "again": [], "fresh": [], "warm": []}
                heap = 0
                for _ in range(RUNS):
                    runs["fresh"].append(native_first_call(path))
                    runs["warm"].append(native_warm(data))
                    browser, page = fresh_page()
                    for key in ("first", "again"):
                        result = page.evaluate(HASH_JS, served)
                        assert result["ok"], label
                        runs[key].append(result["ms"] / 1000)
                    heap = result["heap"]
                    browser.close()
                med = {k: statistics.median(v) * 1000 for k, v in runs.items()}
                goal = f"  (goal <= {GOALS[label]})" if label in GOALS else ""
                if label in HEAP_GOALS_MIB:
                    goal += f"  (heap goal <= {HEAP_GOALS_MIB[label]} MiB)"
                print(
                    f"{label:<10} {med['first']:>18.0f}ms {med['fresh']:>5.0f}ms {med['first'] / med['fresh']:>6.2f}   "
                    f"{med['again']:>12.0f}ms {med['warm']:>5.0f}ms {med['again'] / med['warm']:>6.2f}   "
                    f"{heap / 2**20:>11.0f} MiB{goal}"
                )
                print(f"{'':<10} cold Chromium against warm native: {med['first'] / med['warm']:.2f}")

            # What the review's "copies apps make" box costs: the site hashes each picture again with
            # the variants (web/files.js makeVariants), so the wait is a whole record with them.
            served = images["12MP JPEG"].relative_to(site).as_posix()
            plain, framed = [], []
            for _ in range(RUNS):
                browser, page = fresh_page()
                page.evaluate(HASH_JS, served)  # warm: the first file loads the JPEG path
                plain.append(page.evaluate(HASH_JS, [served, {"dihedral": True}])["ms"])
                framed.append(page.evaluate(HASH_JS, [served, {"dihedral": True, "variants": True}])["ms"])
                browser.close()
            plain_ms, framed_ms = statistics.median(plain), statistics.median(framed)
            print(
                f"12 MP JPEG with variants (what ticking 'copies apps make' re-does per photo), warm, median of "
                f"{RUNS}: {framed_ms:.0f} ms against {plain_ms:.0f} ms without: ratio {framed_ms / plain_ms:.2f}"
            )
        server.shutdown()
        print(
            f"\nnavigation to ready: median {statistics.median(ready):.2f} s of {len(ready)} fresh browsers, "
            f"range {min(ready):.2f}-{max(ready):.2f} (goal <= {GOALS['ready']} s: "
            f"ratio {statistics.median(ready) / GOALS['ready']:.2f})"
        )
        sizes = wire_sizes(site)
        print("bytes on the wire for a first visit: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items()))


if __name__ == "__main__":
    main()
