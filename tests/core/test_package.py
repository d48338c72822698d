"""`pip install .` gives platforms and auditors the library and CLI, depending on numpy and Pillow only."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT, require_corpus


def build_wheel(tmp_path: Path) -> Path:
    # Build from a copy: setuptools writes build/ and *.egg-info beside the sources.
    source = tmp_path / "src"
    shutil.copytree(
        ROOT / "py" / "localhash", source / "py" / "localhash", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path, source],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("localhash-*.whl")
    return wheel


def test_wheel_holds_the_package_and_depends_on_numpy_and_pillow_only_unless_an_extra_is_asked_for(tmp_path):
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = zf.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "localhash/pdq.py" in names and "localhash/__main__.py" in names
    assert not any(n.startswith(("tests/", "hashbank/")) for n in names)
    requires = sorted(
        line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist")
    )
    assert requires == [
        "Pillow>=10.2.0",
        "numpy>=2.0.2",
        'pillow-avif-plugin>=1.6.0; extra == "avif"',
        'pillow-heif>=0.22.0; extra == "heif"',
    ]


def test_cli_runs_from_the_installed_wheel(tmp_path):
    corpus = require_corpus()
    wheel = build_wheel(tmp_path)
    image = corpus / "pdq/images/misc-images/wee.jpg"
    env = {**os.environ, "PYTHONPATH": str(wheel)}  # a pure-Python wheel is importable as a zip
    out = subprocess.run(
        [sys.executable, "-m", "localhash", "hash", str(image)], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["ok"] and len(record["pdq"]) == 64
