"""The Python the browser imports ships as bytecode compiled from the verified originals (site_build/bytecode.py)."""

from __future__ import annotations

import _imp
import base64
import hashlib
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from site_build import bytecode, pyodide_assets
from site_build.dist import runtime_dir
from tests.conftest import ROOT

NPM_PYODIDE = ROOT / "node_modules" / "pyodide"
PYODIDE_MAGIC = b"\xcb\r\r\n"  # CPython 3.12's bytecode magic number (3531): Pyodide 0.27.7 runs 3.12.7
UNCHECKED, CHECKED = 0b01, 0b11  # PEP 552 flags: hash-based, and whether Python checks the source at import
IMPORTS = Path(__file__).with_name("pyodide_imports.mjs")


def official_archives() -> dict[str, Path]:
    """File name in the runtime folder -> the verified original it is compiled from."""
    lock = json.loads((NPM_PYODIDE / "pyodide-lock.json").read_text())
    wheels = pyodide_assets.package_wheels(lock, ROOT / ".cache" / "pyodide", allow_network=False)
    return {"python_stdlib.zip": NPM_PYODIDE / "python_stdlib.zip", **{w.file_name: w.path for w in wheels}}


def pyc_header(pyc: bytes) -> tuple[bytes, int, bytes]:
    return pyc[:4], int.from_bytes(pyc[4:8], "little"), pyc[8:16]


def source_hash(source: bytes) -> bytes:
    # PEP 552: SipHash of the source keyed by the magic number, so it can be checked outside Pyodide
    return _imp.source_hash(int.from_bytes(PYODIDE_MAGIC, "little"), source)


@pytest.mark.parametrize("name", ["python_stdlib.zip", "numpy", "pillow"])
def test_every_shipped_source_is_its_bytecode_and_every_other_file_is_unchanged_or_listed_as_removed(dist, name):
    """Shipped = the official archive, minus the members the manifest lists as removed, each .py as
    bytecode naming its source; stored uncompressed, so the host's brotli/gzip sees the bytes."""
    archives = official_archives()
    file_name = next(f for f in archives if f.startswith(name))
    original = zipfile.ZipFile(archives[file_name])
    compiled = zipfile.ZipFile(runtime_dir(dist) / file_name)
    manifest = json.loads((dist / "manifest.json").read_text())
    removed = manifest["files"][f"{runtime_dir(dist).name}/{file_name}"]["removed"]
    assert removed and set(removed) <= set(original.namelist())
    shipped = {info.filename for info in compiled.infolist()}
    expected = set()
    for entry in sorted(set(original.namelist()) - set(removed)):
        if entry.endswith(".dist-info/RECORD"):
            expected.add(entry)
        elif entry.endswith(".py"):
            expected.add(entry + "c")
            magic, flags, recorded = pyc_header(compiled.read(entry + "c"))
            assert (magic, flags) == (PYODIDE_MAGIC, UNCHECKED), entry
            assert recorded == source_hash(original.read(entry)), f"{entry}: bytecode of another source"
        else:
            expected.add(entry)
            assert compiled.read(entry) == original.read(entry), entry
    assert shipped == expected
    assert {info.compress_type for info in compiled.infolist()} == {zipfile.ZIP_STORED}


def test_localhash_keeps_its_sources_with_checked_bytecode_beside_them(dist):
    wheel = zipfile.ZipFile(next(runtime_dir(dist).glob("localhash-*.whl")))
    native_only = ("__main__.py", "cli.py", "video_native.py")  # left out of the site (test_build.py)
    sources = sorted(p for p in (ROOT / "py" / "localhash").glob("*.py") if p.name not in native_only)
    assert sources
    for path in sources:
        entry = f"localhash/{path.name}"
        assert wheel.read(entry) == path.read_bytes(), entry
        magic, flags, recorded = pyc_header(wheel.read(f"localhash/__pycache__/{path.stem}.cpython-312.pyc"))
        assert (magic, flags) == (PYODIDE_MAGIC, CHECKED), entry
        assert recorded == source_hash(path.read_bytes()), entry


def test_every_wheel_record_lists_each_file_with_its_sha256(dist):
    for path in runtime_dir(dist).glob("*.whl"):
        wheel = zipfile.ZipFile(path)
        record_name = next(n for n in wheel.namelist() if n.endswith(".dist-info/RECORD"))
        listed = {}
        for line in wheel.read(record_name).decode().splitlines():
            name, digest, size = line.rsplit(",", 2)
            listed[name] = (digest, size)
        assert sorted(listed) == sorted(wheel.namelist()), path.name
        for name in wheel.namelist():
            if name != record_name:
                data = wheel.read(name)
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                assert listed[name] == (f"sha256={digest}", str(len(data))), f"{path.name}: {name}"


def test_the_sites_pyodide_imports_localhash_without_compiling_any_source(dist):
    pyodide_assets.npm_pyodide(ROOT)  # node_modules in place, as the build needs them too
    done = subprocess.run(["node", str(IMPORTS), str(runtime_dir(dist))], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["compiled_from_source"] == []
    # Frozen modules live inside the wasm binary; what is read from files is bytecode, except
    # localhash, whose loader reads its .py only to check the bytecode beside it.
    from_files = {name: file for name, file in report["files"].items() if report["loaders"][name] != "FrozenImporter"}
    localhash_modules = {name for name in from_files if name.split(".")[0] == "localhash"}
    assert {name for name, file in from_files.items() if file and file.endswith(".py")} == localhash_modules
    assert {report["loaders"][name] for name in localhash_modules} == {"SourceFileLoader"}
    assert {"numpy", "PIL.Image", "zipfile", "localhash.pdq"} <= set(report["files"])
    assert report["files"]["numpy"].endswith("numpy/__init__.pyc")
    for name in localhash_modules:
        assert report["cached"][name].endswith(".cpython-312.pyc"), name
    # Docstrings are left out of the standard library and Pillow, not numpy (bytecode_archive.py says why).
    assert report["docs"]["zipfile.ZipFile"] is None
    assert report["docs"]["PIL.Image.Image"] is None
    assert report["docs"]["numpy.zeros_like"].strip().startswith("Return an array of zeros")
    assert report["docs"]["localhash.pdq.pdq_hash"]


def test_a_compile_depends_only_on_the_input_bytes(tmp_path):
    """Two compiles of the same wheel, without the cache, give the same bytes (so builds are identical)."""
    from site_build.wheel import build_wheel

    source = build_wheel(ROOT, tmp_path / "src")
    jobs = [bytecode.Job(source, tmp_path / f"{n}.whl", True, bytecode.SITE_PACKAGES_PREFIX) for n in "ab"]
    results = bytecode.run_compiler(jobs, pyodide_assets.npm_pyodide(ROOT))
    assert [r["kept_as_source"] for r in results] == [[], []]
    assert (tmp_path / "a.whl").read_bytes() == (tmp_path / "b.whl").read_bytes()
