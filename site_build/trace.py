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


def _key(pyodide_dir: Path) -> str:
    digest = hashlib.sha256()
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


def _check(outcomes: dict[str, bool]) -> None:
    """A trace is complete only if every path ran to its end: each good sample hashed, each refusal
    a typed error, the Python error reached JavaScript. Otherwise some import was never reached."""
    wrong = [key for key, ok in outcomes.items() if ok != (not key.startswith("refused-"))]
    if wrong:
        raise AssetError(f"the import trace did not run as expected for: {', '.join(sorted(wrong))}")


def traced_modules(pyodide_dir: Path, cache_dir: Path | None) -> dict[str, str | None]:
    """Module name -> the file it came from at run time (None for built-in and frozen modules).

    `pyodide_dir` holds the runtime, the compiled standard library and wheels, and a lock naming
    them; every file in it is used as the site would use it.
    """
    cached = cache_dir / f"{_key(pyodide_dir)}.json" if cache_dir else None
    if cached and cached.exists():
        return json.loads(cached.read_text())["modules"]
    with tempfile.TemporaryDirectory() as samples:
        _node("samples", str(pyodide_dir.resolve()), samples)
        lines = [line for line in _node("trace", str(pyodide_dir.resolve()), samples).splitlines() if line]
    report = json.loads(lines[-1])
    _check(report["outcomes"])
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(cached.name + ".partial")
        partial.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
        partial.replace(cached)
    return report["modules"]
