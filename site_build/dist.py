"""Assemble dist/: the static site, self-hosted Pyodide, the localhash wheel, headers and a manifest."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

from . import bytecode, headers, pyodide_assets
from .pins import CORE_SHA256
from .wheel import build_wheel

DEFAULT_ENDPOINT = "api/"  # relative: the same origin's /api/ wherever dist/ is served
TEMPLATED = ("index.html",)


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def git_commit(root: Path) -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "py", "web"], cwd=root, capture_output=True, text=True)
        return commit.stdout.strip() + ("+uncommitted-changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _render(template: str, site: Path, csp: str) -> str:
    def integrity(match: re.Match) -> str:
        return sri((site / match.group(1)).read_bytes())

    return re.sub(r"\{\{SRI:([^}]+)\}\}", integrity, template.replace("{{CSP}}", csp))


def trimmed_lock(official: dict, wheels: list[pyodide_assets.Wheel], localhash_wheel: Path) -> dict:
    """Only what the site loads, each with the sha256 of the file the site serves (the compiled
    wheel, next to localhash's), so Pyodide verifies every package it installs."""
    served = localhash_wheel.parent
    packages = {
        w.name: {**official["packages"][w.name], "sha256": pyodide_assets.sha256_file(served / w.file_name)}
        for w in wheels
    }
    packages["localhash"] = {
        "depends": ["numpy", "pillow"],
        "file_name": localhash_wheel.name,
        "imports": ["localhash"],
        "install_dir": "site",
        "name": "localhash",
        "package_type": "package",
        "sha256": pyodide_assets.sha256_file(localhash_wheel),
        "unvendored_tests": False,
        "version": localhash_wheel.name.split("-")[1],
    }
    return {"info": official["info"], "packages": packages}


def build(
    root: Path,
    out: Path,
    endpoint: str = DEFAULT_ENDPOINT,
    *,
    cache_dir: Path | None = None,
    pyodide_dir: Path | None = None,
    allow_network: bool = True,
) -> Path:
    """Build dist/ into a staging folder, then swap it in: a failed build leaves no half site.

    The wheels are cached in `cache_dir` (default root/.cache/pyodide); the Pyodide core comes from
    `pyodide_dir` (default node_modules/pyodide, installed from the lockfile when needed).
    """
    pyodide_dir = pyodide_dir or pyodide_assets.npm_pyodide(root)
    for name, expected in CORE_SHA256.items():
        actual = pyodide_assets.sha256_file(pyodide_dir / name)
        if actual != expected:
            raise pyodide_assets.AssetError(
                f"{pyodide_dir / name}: sha256 mismatch (expected {expected}, actual {actual})"
            )
    official = pyodide_assets.official_lock(pyodide_dir)
    cache_dir = cache_dir or root / ".cache" / "pyodide"
    wheels = pyodide_assets.package_wheels(official, cache_dir, allow_network)

    stage = out.with_name(out.name + ".partial")
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "pyodide").mkdir(parents=True)
    provenance: dict[str, str] = {}
    commit = git_commit(root)

    for src in sorted((root / "web").rglob("*")):
        rel = src.relative_to(root / "web").as_posix()
        if src.is_file() and rel not in TEMPLATED and rel != "config.json":
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, stage / rel)
            provenance[rel] = f"web/{rel} at commit {commit}"
    (stage / "config.json").write_text(json.dumps({"endpoint": endpoint}, indent=2) + "\n")
    provenance["config.json"] = f"generated: endpoint {endpoint}"

    version = pyodide_assets.PYODIDE_VERSION
    for name in CORE_SHA256:
        if name not in ("pyodide-lock.json", "python_stdlib.zip"):
            pyodide_assets.copy_verified(pyodide_dir / name, stage / "pyodide" / name, CORE_SHA256[name])
            provenance[f"pyodide/{name}"] = f"npm pyodide@{version} {name}"
    # What Python imports ships as bytecode (site_build/bytecode.py says why), compiled from the
    # verified originals; the manifest names each original by its sha256.
    compiled = "compiled to bytecode by Pyodide's CPython (site_build/bytecode.py) from "
    stdlib = pyodide_dir / "python_stdlib.zip"
    jobs = [bytecode.Job(stdlib, stage / "pyodide" / stdlib.name, False, bytecode.STDLIB_PREFIX)]
    provenance["pyodide/python_stdlib.zip"] = (
        compiled + f"npm pyodide@{version} python_stdlib.zip sha256 {CORE_SHA256['python_stdlib.zip']}"
    )
    originals = stage / "originals"  # verified inputs of the compile, removed after it
    originals.mkdir()
    for wheel in wheels:
        pyodide_assets.copy_verified(wheel.path, originals / wheel.file_name, wheel.sha256)
        jobs.append(
            bytecode.Job(
                originals / wheel.file_name, stage / "pyodide" / wheel.file_name, False, bytecode.SITE_PACKAGES_PREFIX
            )
        )
        # Not where the bytes came from (cache, CDN or the PyPI copy, logged by package_wheels):
        # that depends on the machine, and the manifest must not, for builds to be identical.
        provenance[f"pyodide/{wheel.file_name}"] = (
            compiled + f"official pyodide-lock.json {version} entry '{wheel.name}' sha256 {wheel.sha256} (verified)"
        )
    source_wheel = build_wheel(root, originals)
    localhash_wheel = stage / "pyodide" / source_wheel.name
    jobs.append(bytecode.Job(source_wheel, localhash_wheel, True, bytecode.SITE_PACKAGES_PREFIX))
    provenance[f"pyodide/{localhash_wheel.name}"] = (
        f"built from py/localhash at commit {commit}; its sources kept, with bytecode beside them "
        "compiled by Pyodide's CPython (site_build/bytecode.py)"
    )
    bytecode.compile_archives(jobs, pyodide_dir, cache_dir / "bytecode")
    shutil.rmtree(originals)
    lock = trimmed_lock(official, wheels, localhash_wheel)
    (stage / "pyodide" / "pyodide-lock.json").write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n")
    provenance["pyodide/pyodide-lock.json"] = (
        f"npm pyodide@{version} pyodide-lock.json, trimmed to the packages the site loads"
    )

    for name in TEMPLATED:
        html = _render((root / "web" / name).read_text(), stage, headers.content_security_policy(endpoint, False))
        (stage / name).write_text(html)
        provenance[name] = f"web/{name} at commit {commit}, with CSP and Subresource Integrity filled in"
    (stage / "_headers").write_text(headers.netlify_headers_file(endpoint))
    provenance["_headers"] = "generated: response headers for Netlify / Cloudflare Pages"

    write_manifest(stage, provenance, endpoint, commit)
    shutil.rmtree(out, ignore_errors=True)
    stage.rename(out)
    return out


def write_manifest(site: Path, provenance: dict[str, str], endpoint: str, commit: str) -> None:
    files = {}
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        rel = path.relative_to(site).as_posix()
        files[rel] = {
            "size": path.stat().st_size,
            "sha256": pyodide_assets.sha256_file(path),
            "provenance": provenance[rel],
        }
    manifest = {
        "localhash_commit": commit,
        "endpoint": endpoint,
        "pyodide": pyodide_assets.PYODIDE_VERSION,
        "files": files,
    }
    (site / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
