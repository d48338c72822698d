"""Assemble dist/: the static site, self-hosted Pyodide, the localhash wheel, headers and a manifest."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

from . import bytecode, headers, precompress, pyodide_assets, trace, trim
from .pins import (
    AVIF_DECODER_SERVED,
    AVIF_DECODER_SHA256,
    AVIF_DECODER_VERSION,
    CORE_SHA256,
    LIBHEIF_SERVED,
    LIBHEIF_SHA256,
    LIBHEIF_VERSION,
    MEDIABUNNY_SERVED,
    MEDIABUNNY_SHA256,
    MEDIABUNNY_VERSION,
    MP4BOX_SERVED,
    MP4BOX_SHA256,
    MP4BOX_VERSION,
)
from .wheel import build_wheel

DEFAULT_ENDPOINT = "api/"  # relative: the same origin's /api/ wherever dist/ is served
TEMPLATED = ("index.html",)
# The runtime (Pyodide, the standard library, the wheels) lives in a folder named by its content,
# pyodide-<16 hex>: a host may let browsers keep it for a year (headers.cache_control), and any
# change gives it a new name, which the revalidated worker.js then names.
RUNTIME_PATTERN = re.compile(r"pyodide-[0-9a-f]{16}")
RUNTIME_REFERENCE = "./pyodide/"  # how web/worker.js names the folder before the build names it
STRIP_DOCSTRINGS = ("pillow",)  # and the standard library; site_build/bytecode_archive.py says why not numpy


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
        if src.is_file() and rel not in TEMPLATED and rel not in ("config.json", "worker.js"):
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
    libheif_dir = root / "node_modules" / "libheif-js"
    for name, served in LIBHEIF_SERVED.items():
        pyodide_assets.copy_verified(libheif_dir / name, stage / "pyodide" / served, LIBHEIF_SHA256[name])
        provenance[f"pyodide/{served}"] = f"npm libheif-js@{LIBHEIF_VERSION} {name}"
    avif_dir = root / "node_modules" / "@jsquash" / "avif"
    for name, served in AVIF_DECODER_SERVED.items():
        pyodide_assets.copy_verified(avif_dir / name, stage / "pyodide" / served, AVIF_DECODER_SHA256[name])
        provenance[f"pyodide/{served}"] = f"npm @jsquash/avif@{AVIF_DECODER_VERSION} {name}"
    mp4box_dir = root / "node_modules" / "mp4box"
    for name, served in MP4BOX_SERVED.items():
        pyodide_assets.copy_verified(mp4box_dir / name, stage / "pyodide" / served, MP4BOX_SHA256[name])
        provenance[f"pyodide/{served}"] = f"npm mp4box@{MP4BOX_VERSION} {name}"
    mediabunny_dir = root / "node_modules" / "mediabunny"
    for name, served in MEDIABUNNY_SERVED.items():
        pyodide_assets.copy_verified(mediabunny_dir / name, stage / "pyodide" / served, MEDIABUNNY_SHA256[name])
        provenance[f"pyodide/{served}"] = f"npm mediabunny@{MEDIABUNNY_VERSION} {name}"
    # What Python imports ships as bytecode (site_build/bytecode.py says why), compiled from the
    # verified originals, then cut to what the site imports and stored uncompressed
    # (site_build/trim.py). The manifest names each original by its sha256 and lists what was removed.
    compiled_dir = stage / "compiled"  # whole compiled archives and the runtime, for the trace; removed after
    originals = stage / "originals"  # verified inputs of the compile, removed after it
    compiled_dir.mkdir()
    originals.mkdir()
    for name in ("pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm"):
        shutil.copyfile(stage / "pyodide" / name, compiled_dir / name)
    stdlib = pyodide_dir / "python_stdlib.zip"
    jobs = [bytecode.Job(stdlib, compiled_dir / stdlib.name, False, bytecode.STDLIB_PREFIX, strip_docstrings=True)]
    sources = {stdlib.name: (stdlib, f"npm pyodide@{version} python_stdlib.zip sha256 {CORE_SHA256[stdlib.name]}")}
    for wheel in wheels:
        pyodide_assets.copy_verified(wheel.path, originals / wheel.file_name, wheel.sha256)
        jobs.append(
            bytecode.Job(
                originals / wheel.file_name,
                compiled_dir / wheel.file_name,
                False,
                bytecode.SITE_PACKAGES_PREFIX,
                strip_docstrings=wheel.name in STRIP_DOCSTRINGS,
            )
        )
        # Not where the bytes came from (cache, CDN or the PyPI copy, logged by package_wheels):
        # that depends on the machine, and the manifest must not, for builds to be identical.
        origin = f"official pyodide-lock.json {version} entry '{wheel.name}' sha256 {wheel.sha256} (verified)"
        sources[wheel.file_name] = (originals / wheel.file_name, origin)
    stripped = {job.dst.name: job.strip_docstrings for job in jobs}
    source_wheel = build_wheel(root, originals)
    jobs.append(bytecode.Job(source_wheel, compiled_dir / source_wheel.name, True, bytecode.SITE_PACKAGES_PREFIX))
    bytecode.compile_archives(jobs, pyodide_dir, cache_dir / "bytecode")
    localhash_wheel = stage / "pyodide" / source_wheel.name
    lock = trimmed_lock(official, wheels, compiled_dir / source_wheel.name)
    (compiled_dir / "pyodide-lock.json").write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n")
    modules = trace.traced_modules(compiled_dir, cache_dir / "trace", tuple(trim.STDLIB_KEPT))

    removed: dict[str, list[str]] = {}
    stored = "; stored uncompressed (site_build/trim.py)"
    for file_name, (original, origin) in sources.items():
        names = trim.members(original)
        if file_name == stdlib.name:
            cut = trim.stdlib_removals(names, modules)
            why = "the members the site never imports removed (found by site_build/trace.py)"
        else:
            cut = trim.wheel_removals(next(w.name for w in wheels if w.file_name == file_name), names, modules)
            why = "the members localhash never imports removed"
        trim.store(compiled_dir / file_name, stage / "pyodide" / file_name, cut, names)
        removed[f"pyodide/{file_name}"] = cut
        provenance[f"pyodide/{file_name}"] = (
            f"{origin}; compiled to bytecode by Pyodide's CPython (site_build/bytecode.py)"
            f"{', without docstrings' if stripped[file_name] else ''}; "
            f"{len(cut)} of {len(names)} {why}, listed under 'removed'{stored}"
        )
    names = trim.members(compiled_dir / source_wheel.name)
    cut = trim.wheel_removals("localhash", names, modules)
    trim.store(compiled_dir / source_wheel.name, localhash_wheel, cut, names)
    removed[f"pyodide/{localhash_wheel.name}"] = cut
    provenance[f"pyodide/{localhash_wheel.name}"] = (
        f"built from py/localhash at commit {commit}; its sources kept, with bytecode beside them "
        f"compiled by Pyodide's CPython (site_build/bytecode.py); {len(cut)} of {len(names)} members that "
        f"only run natively (the CLI, PyAV's video) removed, listed under 'removed'{stored}"
    )
    shutil.rmtree(originals)
    shutil.rmtree(compiled_dir)
    lock = trimmed_lock(official, wheels, localhash_wheel)
    (stage / "pyodide" / "pyodide-lock.json").write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n")
    provenance["pyodide/pyodide-lock.json"] = (
        f"npm pyodide@{version} pyodide-lock.json, trimmed to the packages the site loads"
    )
    # The cut runtime, traced again: every path must still run to its end, importing nothing new.
    after = trace.traced_modules(stage / "pyodide", cache_dir / "trace", tuple(trim.STDLIB_KEPT))
    if set(after) != set(modules):
        changed = sorted(set(after) ^ set(modules))
        raise pyodide_assets.AssetError(f"the cut runtime imports other modules than the whole one: {changed}")
    runtime = name_runtime_by_content(stage)
    provenance = {_in_runtime(rel, runtime): text for rel, text in provenance.items()}
    removed = {_in_runtime(rel, runtime): members for rel, members in removed.items()}
    worker = (root / "web" / "worker.js").read_text()
    # pyodide.mjs, the runtime folder, its lock, libheif's bundle, libavif's module, mp4box.js, Mediabunny
    if worker.count(RUNTIME_REFERENCE) != 7:
        raise pyodide_assets.AssetError(f"web/worker.js: expected 7 references to {RUNTIME_REFERENCE}")
    (stage / "worker.js").write_text(worker.replace(RUNTIME_REFERENCE, f"./{runtime}/"))
    provenance["worker.js"] = f"web/worker.js at commit {commit}, with the runtime folder's name ({runtime}) filled in"

    for name in TEMPLATED:
        html = _render((root / "web" / name).read_text(), stage, headers.content_security_policy(endpoint, False))
        (stage / name).write_text(html)
        provenance[name] = f"web/{name} at commit {commit}, with CSP and Subresource Integrity filled in"
    (stage / "_headers").write_text(headers.netlify_headers_file(endpoint))
    provenance["_headers"] = "generated: response headers for Netlify / Cloudflare Pages"

    provenance.update(precompress.write_siblings(stage, root / ".cache" / "precompressed"))
    write_manifest(stage, provenance, endpoint, commit, removed)
    shutil.rmtree(out, ignore_errors=True)
    stage.rename(out)
    return out


def name_runtime_by_content(stage: Path) -> str:
    """Rename stage/pyodide to pyodide-<the first 16 hex of a sha256 over its files' names and sha256>."""
    digest = hashlib.sha256()
    for path in sorted((stage / "pyodide").iterdir()):
        digest.update(f"{path.name}\0{pyodide_assets.sha256_file(path)}\n".encode())
    name = f"pyodide-{digest.hexdigest()[:16]}"
    (stage / "pyodide").rename(stage / name)
    return name


def _in_runtime(rel: str, runtime: str) -> str:
    return runtime + rel[len("pyodide") :] if rel.startswith("pyodide/") else rel


def runtime_dir(site: Path) -> Path:
    """The built site's runtime folder (pyodide-<16 hex>)."""
    folders = [p for p in site.iterdir() if p.is_dir() and RUNTIME_PATTERN.fullmatch(p.name)]
    if len(folders) != 1:
        raise pyodide_assets.AssetError(f"{site}: expected one runtime folder pyodide-<16 hex>, found {len(folders)}")
    return folders[0]


def write_manifest(
    site: Path, provenance: dict[str, str], endpoint: str, commit: str, removed: dict[str, list[str]]
) -> None:
    """manifest.json: every file's size, sha256 and provenance; for an archive cut down from an
    official one, the members removed (named as in the official archive)."""
    files = {}
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        rel = path.relative_to(site).as_posix()
        files[rel] = {
            "size": path.stat().st_size,
            "sha256": pyodide_assets.sha256_file(path),
            "provenance": provenance[rel],
        }
        if rel in removed:
            files[rel]["removed"] = removed[rel]
    manifest = {
        "localhash_commit": commit,
        "endpoint": endpoint,
        "pyodide": pyodide_assets.PYODIDE_VERSION,
        "files": files,
    }
    (site / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
