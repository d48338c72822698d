"""`python -m site_build.cli build OUT ENDPOINT | verify SITE`: what `build.py build` and `verify` run inside .venv/.

They need packages the machine's python3 lacks (brotli, for the site's precompressed files), so build.py starts
this module with the venv's python; messages and exit codes are build.py's own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def log(message: str) -> None:
    print(f"[build.py] {message}", flush=True)


def build(out: str, endpoint: str) -> int:
    from .dist import build
    from .pyodide_assets import AssetError
    from .system import SetupError

    try:
        built = build(ROOT, Path(out).resolve(), endpoint)
    except (AssetError, SetupError) as exc:  # a missing/tampered file, or npm ci failing: a message, no traceback
        log(f"build failed: {exc}")
        return 1
    log(f"built {built} (check it with: python3 build.py verify {out})")
    return 0


def verify(site: str) -> int:
    from .verify import verify

    problems = verify(Path(site))
    for problem in problems:
        print(problem)
    print(f"{site}: {'OK, every file matches manifest.json' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m site_build.cli", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_args = commands.add_parser("build")
    build_args.add_argument("out")
    build_args.add_argument("endpoint")
    commands.add_parser("verify").add_argument("site")
    args = parser.parse_args(argv)
    return build(args.out, args.endpoint) if args.command == "build" else verify(args.site)


if __name__ == "__main__":
    sys.exit(main())
