"""Which Python modules the site imports, found by running it: the trace the standard library is cut to.

site_build/trace_imports.mjs starts the staged site's own Pyodide under node and drives
localhash as web/worker.js does over every kind of file (site_build/trace_samples.py); this
module runs it and returns every module then in sys.modules with the file it was loaded from.
The result is cached by the sha256 of everything it depends on (the staged runtime and
archives, and the three trace scripts), so a rebuild with nothing changed starts no Pyodide.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from .pyodide_assets import AssetError, sha256_file

HERE = Path(__file__).resolve().parent
SCRIPTS = (HERE / "trace_imports.mjs", HERE / "trace_samples.py", HERE / "trace.py")
TIMEOUT_SECONDS = 600
# Paths the trace must have taken whatever the samples are: the browser's JPEG and AVIF pixels (right,
# wrong, none), a video, a Python exception reaching JavaScript.
REQUIRED_PATHS = {
    "mp4 frames I420",
    "mp4 frames NV12",
    "mp4 frames RGBA",
    "mp4 frames BGRX",
    "mp4 frames zero",
    "mp4 frames unavailable",
    "refused-too_small-mp4 frames",
    "refused-corrupt_video-mp4 frames",
    "jpeg browser none",
    "jpeg browser zero",
    "jpeg browser not_decoded",
    "jpeg libheif",
    "refused-corrupt_image-jpeg libheif",
    "avif browser none",
    "avif browser zero",
    "avif browser not_decoded",
    "refused-corrupt_image-avif libavif",
    "mp4",
    "python error",
}


def _key(pyodide_dir: Path, also_import: tuple[str, ...]) -> str:
    digest = hashlib.sha256(json.dumps(sorted(also_import)).encode())
    for path in sorted(pyodide_dir.iterdir()) + list(SCRIPTS):
        digest.update(f"{path.name}\0{sha256_file(path)}\0".encode())
    return digest.hexdigest()[:32]


def _node(*args: str) -> str:
    node = shutil.which("node")
    if node is None:
        raise AssetError("node not found: the build traces the site's imports with Pyodide under node")
    try:
        done = subprocess.run([node, str(SCRIPTS[0]), *args], capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise AssetError(f"tracing the site's imports ({args[0]}) took over {TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        raise AssetError(f"tracing the site's imports ({args[0]}) failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def _check(outcomes: dict[str, str], samples: list[str]) -> None:
    """A trace is complete only if every path ran to its end: each good sample hashed on every path,
    each refusal gave the error its name says (refused-<code>-...), the Python error reached
    JavaScript. Otherwise some import was never reached, and the archives would be cut blind."""
    expected = {}
    for key in outcomes:
        name = key.split(" ")[0]
        expected[key] = name.split("-")[1] if name.startswith("refused-") else "ok"
    wrong = sorted(
        f"{key} ({outcomes[key]}, expected {expected[key]})" for key in outcomes if outcomes[key] != expected[key]
    )
    ran = {key.split(" ")[0] for key in outcomes}
    missing = sorted(set(samples) - ran) + sorted(REQUIRED_PATHS - set(outcomes))
    if wrong or missing:
        raise AssetError(f"the import trace did not run as expected: wrong {wrong}, missing {missing}")


def traced_modules(
    pyodide_dir: Path, cache_dir: Path | None, also_import: tuple[str, ...] = ()
) -> dict[str, str | None]:
    """Module name -> the file it came from at run time (None for built-in and frozen modules).

    `pyodide_dir` holds the runtime, the compiled standard library and wheels, and a lock naming
    them; every file in it is used as the site would use it. `also_import` are imported at the end,
    so that they and what they import are in the result (trim.STDLIB_KEPT).
    """
    cached = cache_dir / f"{_key(pyodide_dir, also_import)}.json" if cache_dir else None
    if cached and cached.exists():
        return json.loads(cached.read_text())["modules"]
    with tempfile.TemporaryDirectory() as samples:
        _node("samples", str(pyodide_dir.resolve()), samples)
        lines = [
            line
            for line in _node(
                "trace", str(pyodide_dir.resolve()), samples, json.dumps(sorted(also_import))
            ).splitlines()
            if line
        ]
        names = [p.name for p in Path(samples).iterdir() if not p.name.endswith(".rgba")]
    report = json.loads(lines[-1])
    _check(report["outcomes"], names)
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(cached.name + ".partial")
        partial.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
        partial.replace(cached)
    return report["modules"]
