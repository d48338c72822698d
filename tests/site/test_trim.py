"""What the build removes from the archives the browser downloads (site_build/trim.py), and what
happens when a removed module is imported all the same."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from site_build import trim
from site_build.dist import runtime_dir
from site_build.pyodide_assets import AssetError

MISSING_MODULE = Path(__file__).with_name("pyodide_missing_module.mjs")
STDLIB = trim.STDLIB_RUNTIME
SITE = trim.SITE_PACKAGES_RUNTIME


def test_a_removed_module_imported_anyway_gives_that_file_a_typed_error_and_the_next_file_hashes(dist):
    done = subprocess.run(
        ["node", str(MISSING_MODULE), str(runtime_dir(dist))], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for module in ("numpy.random", "difflib", "PIL.ImageFont"):
        error = results[module]["error"]
        assert results[module]["ok"] is False
        assert error["code"] == "internal_error"
        assert error["message"] == f"this copy of localhash lacks a module it needs (No module named '{module}')"
        assert results[f"{module} then"]["ok"] is True, results[f"{module} then"]


def test_the_standard_library_keeps_what_the_trace_saw_its_packages_and_the_reviewed_list():
    official = {"a.py", "pkg/", "pkg/__init__.py", "pkg/sub/", "pkg/sub/__init__.py", "pkg/sub/mod.py", "pkg/x.py"}
    official |= {
        "traceback.py",
        "unused.py",
        "unusedpkg/",
        "unusedpkg/__init__.py",
        "encodings/",
        "encodings/cp1252.py",
    }
    traced = {"a": STDLIB + "a.pyc", "pkg": STDLIB + "pkg/__init__.pyc", "pkg.sub": STDLIB + "pkg/sub/__init__.pyc"}
    traced |= {"pkg.sub.mod": STDLIB + "pkg/sub/mod.pyc", "sys": None, "numpy": SITE + "numpy/__init__.pyc"}
    removed = trim.stdlib_removals(official, traced)
    assert removed == [
        "encodings/",
        "encodings/cp1252.py",
        "pkg/x.py",
        "unused.py",
        "unusedpkg/",
        "unusedpkg/__init__.py",
    ]


def test_a_wheel_rule_that_would_remove_an_imported_module_stops_the_build():
    official = {"numpy/__init__.py", "numpy/random/__init__.py", "numpy/fft/__init__.py", "numpy/x.pyi"}
    traced = {"numpy": SITE + "numpy/__init__.pyc", "numpy.random": SITE + "numpy/random/__init__.pyc"}
    with pytest.raises(AssetError, match=r"numpy: the site imports numpy/random/__init__\.py"):
        trim.wheel_removals("numpy", official, traced)
    del traced["numpy.random"]
    assert trim.wheel_removals("numpy", official, traced) == [
        "numpy/fft/__init__.py",
        "numpy/random/__init__.py",
        "numpy/x.pyi",
    ]


def test_store_leaves_out_the_removed_members_stores_the_rest_and_rewrites_record(tmp_path):
    compiled = tmp_path / "in.whl"
    with zipfile.ZipFile(compiled, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("p/__init__.pyc", b"kept" * 100)
        archive.writestr("p/gone.pyc", b"gone")
        archive.writestr("p/data.txt", b"data")
        record = "p/__init__.pyc,sha256=x,400\np/gone.pyc,sha256=y,4\np/data.txt,sha256=z,4\np-1.dist-info/RECORD,,\n"
        archive.writestr("p-1.dist-info/RECORD", record)
    official = {"p/__init__.py", "p/gone.py", "p/data.txt", "p-1.dist-info/RECORD"}
    trim.store(compiled, tmp_path / "out.whl", ["p/gone.py"], official)
    out = zipfile.ZipFile(tmp_path / "out.whl")
    assert out.namelist() == ["p/__init__.pyc", "p/data.txt", "p-1.dist-info/RECORD"]
    assert {info.compress_type for info in out.infolist()} == {zipfile.ZIP_STORED}
    assert out.read("p/__init__.pyc") == b"kept" * 100
    assert (
        out.read("p-1.dist-info/RECORD")
        == b"p/__init__.pyc,sha256=x,400\np/data.txt,sha256=z,4\np-1.dist-info/RECORD,,\n"
    )
