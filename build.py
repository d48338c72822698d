#!/usr/bin/env python3
"""localhash's one entry point: `python3 build.py test | serve | bench`.

Thin on purpose: it prepares the environment (a private `.venv/` with pinned packages) and
hands over to pytest, the benchmark scripts, or the server. It needs only python3 >= 3.11.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
REQUIREMENTS = ROOT / "requirements" / "test.txt"


def log(message: str) -> None:
    print(f"[build.py] {message}", flush=True)


def run(cmd: list[str | os.PathLike], **kwargs) -> None:
    log("$ " + " ".join(str(c) for c in cmd))
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kwargs)


def ensure_venv() -> Path:
    """Create .venv/ and install the pinned requirements, once per change of the pin file."""
    if not VENV_PYTHON.exists():
        log(f"creating {VENV.relative_to(ROOT)}/")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    stamp = VENV / ".requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text().strip() != wanted:
        run([VENV_PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", REQUIREMENTS])
        stamp.write_text(wanted + "\n")
    return VENV_PYTHON


def venv_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "py") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def cmd_test(extra: list[str]) -> int:
    python = ensure_venv()
    run([python, "-m", "ruff", "check", "py", "tests", "bench", "build.py"])
    run([python, "-m", "ruff", "format", "--check", "py", "tests", "bench", "build.py"])
    return subprocess.run([str(python), "-m", "pytest", *extra], cwd=ROOT, env=venv_env()).returncode


def cmd_bench(extra: list[str]) -> int:
    python = ensure_venv()
    return subprocess.run([str(python), str(ROOT / "bench" / "native.py"), *extra], cwd=ROOT, env=venv_env()).returncode


def cmd_serve(extra: list[str]) -> int:
    log("serve: the static site (dist/) and the embedded hash bank will be served on http://127.0.0.1:8000")
    log("serve: not built yet. Until then, hash files with: PYTHONPATH=py python3 -m localhash hash FILE...")
    return 0


COMMANDS = {"test": cmd_test, "bench": cmd_bench, "serve": cmd_serve}


def main() -> int:
    if sys.version_info < (3, 11):  # noqa: UP036  build.py runs on whatever python3 the machine has
        sys.exit("localhash needs python3 >= 3.11")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=sorted(COMMANDS))
    args, extra = parser.parse_known_args()
    return COMMANDS[args.command](extra)


if __name__ == "__main__":
    sys.exit(main())
