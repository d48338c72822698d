#!/usr/bin/env python3
"""localhash's one entry point: `python3 build.py build | verify | serve | test | bench`.

Thin on purpose: it prepares the environment (a private `.venv/` with pinned packages) and
hands over to pytest, the benchmark scripts, the build (site_build/cli.py) or the server. It needs only
python3 >= 3.11.
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
REQUIREMENTS = ROOT / "requirements" / "test.txt"  # everything: tests, benchmarks, the bank, the build
BUILD_REQUIREMENTS = ROOT / "requirements" / "build.txt"  # what build and verify need (test.txt includes it)
LINTED = ["py", "tests", "bench", "site_build", "build.py"]


def log(message: str) -> None:
    print(f"[build.py] {message}", flush=True)


def run(cmd: list[str | os.PathLike], **kwargs) -> None:
    log("$ " + " ".join(str(c) for c in cmd))
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kwargs)


def ensure_venv(requirements: Path = REQUIREMENTS) -> Path:
    """Create .venv/ and install a pinned requirements file, once per change of its pins.

    `build` and `verify` ask only for requirements/build.txt, so a mirror operator or an auditor does
    not install the test tools; `test`, `bench` and `serve` ask for all of requirements/test.txt.
    """
    if not VENV_PYTHON.exists():
        log(f"creating {VENV.relative_to(ROOT)}/")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    stamp = VENV / f".requirements-{requirements.stem}.sha256"
    digest = hashlib.sha256(requirements.read_bytes())
    for line in requirements.read_text().splitlines():  # an included file's pins count too
        if line.startswith("-r "):
            digest.update((requirements.parent / line[3:].strip()).read_bytes())
    wanted = digest.hexdigest()
    if not stamp.exists() or stamp.read_text().strip() != wanted:
        run([VENV_PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", requirements])
        stamp.write_text(wanted + "\n")
    return VENV_PYTHON


def venv_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "py") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def cmd_test(extra: list[str]) -> int:
    from site_build.system import SetupError, ensure_node_modules, ensure_system_packages

    try:  # the browsers (and nginx) the site tests drive, and node_modules/ as package-lock.json pins it
        ensure_system_packages()
        ensure_node_modules(ROOT)
    except (SetupError, subprocess.CalledProcessError) as exc:
        log(f"setup failed: {exc}")
        return 1
    python = ensure_venv()
    run([python, "-m", "ruff", "check", *LINTED])
    run([python, "-m", "ruff", "format", "--check", *LINTED])
    return subprocess.run([str(python), "-m", "pytest", *extra], cwd=ROOT, env=venv_env()).returncode


BENCHMARKS = [
    "native.py",
    "variants.py",
    "browser.py",
    "video.py",
    "engines.py",
    "startup.py",
    "mobile.py",
    "bank.py",
    "robustness.py",
]


def cmd_bench(extra: list[str]) -> int:
    python = ensure_venv()
    status = 0
    for script in (s for s in BENCHMARKS if (ROOT / "bench" / s).exists()):
        print(f"\n=== bench/{script} ===", flush=True)
        status |= subprocess.run(
            [str(python), str(ROOT / "bench" / script), *extra], cwd=ROOT, env=venv_env()
        ).returncode
    return status


def in_venv(*args: str) -> int:
    """`python -m site_build.cli ARGS` with .venv/'s python (the build needs brotli), from the caller's folder
    so that relative paths mean what they meant; it prints build.py's messages and returns its exit code."""
    python = ensure_venv(BUILD_REQUIREMENTS)
    env = venv_env()
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env["PYTHONPATH"]
    return subprocess.run([str(python), "-m", "site_build.cli", *args], env=env).returncode


def cmd_build(args: argparse.Namespace) -> int:
    return in_venv("build", args.out, args.endpoint)


def cmd_verify(args: argparse.Namespace) -> int:
    return in_venv("verify", args.site)


def cmd_serve(args: argparse.Namespace) -> int:
    if cmd_build(args) != 0:
        return 1
    python = ensure_venv()
    log(f"serving {args.out} and the hash bank ({args.database}) on http://{args.host}:{args.port}/ (Ctrl-C stops)")
    command = [str(python), "-m", "site_build.serve", str(Path(args.out).resolve()), "--host", args.host]
    command += ["--port", str(args.port), "--endpoint", args.endpoint, "--database", args.database]
    # Become the server (exec, not a child process): a signal to `build.py serve` reaches it directly.
    os.chdir(ROOT)
    os.execve(command[0], command, venv_env())


COMMANDS = {"build": cmd_build, "verify": cmd_verify, "serve": cmd_serve}
EXTRA_ARGS_COMMANDS = {"test": cmd_test, "bench": cmd_bench}
EXTRA_ARGS_HELP = {
    "test": "usage: build.py test [PYTEST ARGS...]\n\nSets up .venv/, the browsers, nginx and node_modules/ as pinned,"
    " runs ruff, then pytest with PYTEST ARGS (`.venv/bin/python -m pytest --help` lists them).",
    "bench": "usage: build.py bench [ARGS...]\n\nRuns, in turn, bench/" + ", bench/".join(BENCHMARKS) + ", each given"
    " ARGS, and prints ratios measured in this one run. A script alone takes its own options"
    " (e.g. `.venv/bin/python bench/robustness.py --photos DIR`).",
}


def main() -> int:
    if sys.version_info < (3, 11):  # noqa: UP036  build.py runs on whatever python3 the machine has
        sys.exit("localhash needs python3 >= 3.11")
    if len(sys.argv) > 1 and sys.argv[1] in EXTRA_ARGS_COMMANDS:  # the rest goes to pytest / the bench
        if sys.argv[2:] in (["-h"], ["--help"]):
            print(EXTRA_ARGS_HELP[sys.argv[1]])
            return 0
        return EXTRA_ARGS_COMMANDS[sys.argv[1]](sys.argv[2:])
    # --endpoint and --out work before the command (as build.py always took them) and after it (as the
    # README writes them): SUPPRESS keeps a subcommand's parser from overwriting a value given before it.
    site_options = argparse.ArgumentParser(add_help=False)
    endpoint_help = "submission endpoint written to config.json and the CSP (default api/)"
    site_options.add_argument("--endpoint", default=argparse.SUPPRESS, help=endpoint_help)
    site_options.add_argument("--out", default=argparse.SUPPRESS, help="where to build the site (default dist/)")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, parents=[site_options]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="assemble dist/", parents=[site_options])
    verify = commands.add_parser("verify", help="check a built site against its manifest.json")
    verify.add_argument("site")
    serve = commands.add_parser("serve", help="build, then serve on 127.0.0.1", parents=[site_options])
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--database",
        default=os.environ.get("DATABASE_URL", "data/hashbank.sqlite3"),
        help="SQLite path or postgresql:// URL",
    )
    commands.add_parser("test", help="set up .venv/, run ruff and the whole test suite (extra args go to pytest)")
    commands.add_parser("bench", help="print benchmark ratios measured in one run")
    args = parser.parse_args()
    args.endpoint = getattr(args, "endpoint", "api/")
    args.out = getattr(args, "out", "dist")
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
