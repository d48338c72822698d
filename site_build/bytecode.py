"""Compile what the browser imports to Python bytecode at build time, with Pyodide's own CPython.

Why: npm pyodide ships the standard library as .py sources, and the official numpy and Pillow
wheels are sources too, so every visit compiled them again inside a wasm CPython that the browser
has not optimised yet: 2.5 s of a 5.5 s start on our 2-core machines. Pyodide's own "pyc"
distribution is the same files compiled, but it is not on npm and its CDN is unreachable here,
so we make it: from the sha256-verified originals, under node, by the very CPython 3.12 the page
runs (site_build/bytecode.mjs, site_build/bytecode_archive.py). The result depends only on
the input bytes: two builds give the same files, which is how an auditor checks them.

Compiled archives are cached by the sha256 of their input and of the compiler (Pyodide's core
files and the two scripts), so a rebuild does not start Pyodide again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .pins import CORE_SHA256
from .pyodide_assets import AssetError, sha256_file

HERE = Path(__file__).resolve().parent
SCRIPTS = (HERE / "bytecode.mjs", HERE / "bytecode_archive.py")
# Where the files are at run time in Pyodide 0.27.7 (shown in tracebacks).
STDLIB_PREFIX = "/lib/python312.zip/"
SITE_PACKAGES_PREFIX = "/lib/python3.12/site-packages/"


@dataclass(frozen=True)
class Job:
    src: Path
    dst: Path
    keep_sources: bool  # localhash keeps its .py for auditors; the rest ships as bytecode only
    runtime_prefix: str
    strip_docstrings: bool = False  # bytecode_archive.py says for which archives, and why


def compiler_key() -> str:
    """What the bytecode depends on besides the input: the runtime that compiles, and how."""
    digest = hashlib.sha256(json.dumps(CORE_SHA256, sort_keys=True).encode())
    for script in SCRIPTS:
        digest.update(script.read_bytes())
    return digest.hexdigest()[:16]


def _cache_path(job: Job, cache_dir: Path) -> Path:
    mode = ("with-sources" if job.keep_sources else "sourceless") + ("-nodoc" if job.strip_docstrings else "")
    return cache_dir / f"{sha256_file(job.src)[:32]}-{compiler_key()}-{mode}-{job.dst.name}"


def run_compiler(jobs: list[Job], pyodide_dir: Path) -> list[dict]:
    """Compile every job in one Pyodide started under node; one result dict per job."""
    node = shutil.which("node")
    if node is None:
        raise AssetError("node not found: the build compiles bytecode with Pyodide under node (npm installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        jobs_file = Path(tmp) / "jobs.json"
        spec = [
            {
                "src": str(j.src.resolve()),
                "dst": str(j.dst.resolve()),
                "keep_sources": j.keep_sources,
                "runtime_prefix": j.runtime_prefix,
                "strip_docstrings": j.strip_docstrings,
            }
            for j in jobs
        ]
        jobs_file.write_text(json.dumps(spec))
        done = subprocess.run(
            [node, str(SCRIPTS[0]), str(pyodide_dir.resolve()), str(jobs_file)], capture_output=True, text=True
        )
    if done.returncode != 0:
        raise AssetError(f"compiling bytecode with Pyodide failed: {done.stderr.strip()[-2000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def compile_archives(jobs: list[Job], pyodide_dir: Path, cache_dir: Path | None) -> None:
    """Write each job's compiled archive to its dst, from the cache when it has it."""
    todo = []
    for job in jobs:
        cached = _cache_path(job, cache_dir) if cache_dir else None
        if cached and cached.exists():
            shutil.copyfile(cached, job.dst)
        else:
            todo.append((job, cached))
    if not todo:
        return
    run_compiler([job for job, _ in todo], pyodide_dir)
    for job, cached in todo:
        if cached:
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_name(cached.name + ".partial")
            shutil.copyfile(job.dst, partial)
            partial.replace(cached)
