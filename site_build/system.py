"""Machine setup for `build.py test`: browsers, nginx and npm from apt; node_modules/ as package-lock.json pins it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

# What the site tests run, by the path they start it from, and the Debian package that has it:
# the three browser engines, and nginx for the README's mirror snippet, with the brotli_static
# module the snippet names (stock nginx lacks it; the tests run the snippet with and without it).
# WebKit is MiniBrowser (in libwebkit2gtk-4.1-0, a dependency of webkit2gtk-driver) on a virtual X
# display; see webkit.py.
NGINX_BROTLI_STATIC = "/usr/lib/nginx/modules/ngx_http_brotli_static_module.so"
SYSTEM_PACKAGES = {
    "/usr/bin/chromium": "chromium",
    "/usr/bin/firefox-esr": "firefox-esr",
    "/usr/bin/WebKitWebDriver": "webkit2gtk-driver",
    "/usr/bin/Xvfb": "xvfb",
    "/usr/sbin/nginx": "nginx-light",
    NGINX_BROTLI_STATIC: "libnginx-mod-http-brotli-static",
    # the README's bank operations: its systemd units are checked offline, its nginx block runs with TLS
    "/usr/bin/systemd-analyze": "systemd",
    "/usr/bin/openssl": "openssl",
    # PyPI vpdq (the vPDQ reference, requirements/test.txt) is built from source against FFmpeg's headers and
    # pkg-config files; tests/core/test_vpdq.py makes its edge-case videos with ffmpeg and reads libswscale
    # through ctypes. Before .venv/ is made, so that pip can build vpdq.
    "/usr/bin/ffmpeg": "ffmpeg",
    **{
        f"/usr/lib/x86_64-linux-gnu/pkgconfig/lib{lib}.pc": f"lib{lib}-dev"
        for lib in ("avcodec", "avformat", "avutil", "swscale", "avfilter", "avdevice")
    },
}
# How the tests and the benchmark start Debian's Chromium: without the background-networking flags
# it tries to reach Google's hosts, which this network refuses.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
NPM_CI = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"]

Runner = Callable[..., subprocess.CompletedProcess]


class SetupError(Exception):
    """The machine could not be prepared; the message says what is missing."""


def _log(message: str) -> None:
    print(f"[build.py] {message}", flush=True)


def missing_packages(
    programs: dict[str, str] = SYSTEM_PACKAGES,
    exists: Callable[[str], bool] = os.path.exists,
    which: Callable[[str], str | None] = shutil.which,
) -> list[str]:
    missing = [package for path, package in programs.items() if not exists(path)]
    if which("npm") is None:  # Debian 12's nodejs 18 is new enough for puppeteer-core (node >= 18)
        missing += ["nodejs", "npm"]
    return missing


def ensure_system_packages(
    programs: dict[str, str] = SYSTEM_PACKAGES,
    run: Runner = subprocess.run,
    exists: Callable[[str], bool] = os.path.exists,
    which: Callable[[str], str | None] = shutil.which,
) -> list[str]:
    """apt-get install what is absent (browsers, nginx, npm); nothing runs when all are there.

    `apt-get update` runs only when the install fails, so a machine with fresh package lists
    makes no extra round trip. Returns the packages installed.
    """
    missing = missing_packages(programs, exists, which)
    if not missing:
        return []
    sudo = ["sudo"] if hasattr(os, "geteuid") and os.geteuid() != 0 and shutil.which("sudo") else []
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*sudo, "apt-get", "install", "-y", "--no-install-recommends", *missing]
    _log("$ " + " ".join(install))
    if run(install, env=env).returncode != 0:
        _log("install failed; updating the package lists and trying again")
        run([*sudo, "apt-get", "update"], env=env, check=True)
        run(install, env=env, check=True)
    still = missing_packages(programs, exists, which)
    if still:
        raise SetupError(f"apt-get installed {missing} but these are still missing: {still}")
    return missing


def node_modules_match_lock(root: Path) -> bool:
    """True when every package package-lock.json pins is in node_modules/ at its pinned version.

    Stronger than comparing modification times (a checkout resets those): a lockfile that gained
    puppeteer-core, or moved pyodide to another version, is noticed whatever the clock says.
    Optional packages (platform-specific, or optional peers) may rightly be absent.
    """
    lock_path = root / "package-lock.json"
    if not lock_path.exists():
        return True
    packages = json.loads(lock_path.read_text())["packages"]
    for where, entry in packages.items():
        if not where.startswith("node_modules/") or entry.get("optional") or entry.get("link"):
            continue
        package_json = root / where / "package.json"
        if not package_json.exists():
            return False
        try:
            if json.loads(package_json.read_text()).get("version") != entry.get("version"):
                return False
        except (OSError, ValueError):
            return False
    return True


def ensure_node_modules(root: Path, run: Runner = subprocess.run) -> bool:
    """`npm ci` when node_modules/ does not match package-lock.json; True when it ran."""
    if node_modules_match_lock(root):
        return False
    _log("$ " + " ".join(NPM_CI))
    try:
        run(NPM_CI, cwd=root, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SetupError(f"npm ci failed in {root}: {exc}") from exc
    if not node_modules_match_lock(root):
        raise SetupError(f"npm ci ran, but {root / 'node_modules'} still differs from package-lock.json")
    return True


def free_port() -> int:
    """A loopback port nobody listens on right now, for a server the tests or a benchmark start."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
