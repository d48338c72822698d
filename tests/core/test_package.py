"""`pip install .` gives platforms and auditors the library and CLI, depending on numpy and Pillow only;
`pip install ".[bank]"` gives an operator the hash bank and its `hashbank` command with its pinned dependencies."""

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
    for package in ("localhash", "hashbank"):
        shutil.copytree(ROOT / "py" / package, source / "py" / package, ignore=shutil.ignore_patterns("__pycache__"))
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
    assert not any(n.startswith(("tests/", "site_build/", "bench/")) for n in names)
    requires = sorted(
        line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist")
    )
    assert [r for r in requires if "extra ==" not in r] == ["Pillow>=10.2.0", "numpy>=2.0.2"]
    assert 'pillow-avif-plugin>=1.6.0; extra == "avif"' in requires
    assert 'pillow-heif>=0.22.0; extra == "heif"' in requires
    pinned = {line.strip() for line in (ROOT / "requirements" / "test.txt").read_text().splitlines()}
    bank = [r.split(";")[0] for r in requires if 'extra == "bank"' in r]
    assert bank and all(r in pinned for r in bank), "the bank extra pins what the tests run"
    assert "hashbank/schema.sql" in names and "hashbank/cli.py" in names


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


def test_the_bank_installs_from_the_wheel_with_its_extra_and_runs(tmp_path):
    """As an operator would: a fresh venv, the wheel with [bank] (its pinned dependencies from the package
    index), then the `hashbank` command creates a database and lists its (no) partners."""
    wheel = build_wheel(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, f"{wheel}[bank]"], check=True, cwd=tmp_path, timeout=600)
    hashbank = venv / "bin" / "hashbank"
    database = tmp_path / "bank.sqlite3"
    help_text = subprocess.run([str(hashbank), "--help"], capture_output=True, text=True, check=True).stdout
    assert "serve" in help_text and "partner" in help_text
    listed = subprocess.run(
        [str(hashbank), "--database", str(database), "partner", "list"], capture_output=True, text=True, cwd=tmp_path
    )
    assert listed.returncode == 0, listed.stderr
    assert database.exists()
