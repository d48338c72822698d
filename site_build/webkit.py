"""How the tests and the benchmark start WebKit: a fresh MiniBrowser on its own Xvfb, through WebKitWebDriver."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.remote.client_config import ClientConfig
from selenium.webdriver.remote.file_detector import UselessFileDetector
from selenium.webdriver.remote.remote_connection import RemoteConnection
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.webkitgtk.options import Options

from .system import free_port

WEBDRIVER = "/usr/bin/WebKitWebDriver"  # Debian's webkit2gtk-driver
XVFB = "/usr/bin/Xvfb"  # Debian's xvfb: MiniBrowser is a GTK program and needs an X display
# WebKitGTK's own test browser, shipped in libwebkit2gtk-4.1-0 (which webkit2gtk-driver depends on).
MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
SCRIPT_TIMEOUT_S = 180  # Pyodide boots in 7-15 s in WebKit on 2 shared cores; a few files take more
START_TIMEOUT_S = 30


class WebKitError(Exception):
    """WebKit could not be started; the message says which part failed."""


@contextlib.contextmanager
def webkit(proxy: dict | None = None, script_timeout: float = SCRIPT_TIMEOUT_S) -> Iterator[WebDriver]:
    """A selenium WebDriver on a new MiniBrowser; every process it started is gone when the block ends.

    `proxy` is a WebDriver proxy capability ({"proxyType": "manual", "httpProxy": ...}); WebKit
    sends every request through it, loopback included, which is how the tests see all of them.
    """
    for program in (WEBDRIVER, XVFB, MINIBROWSER):
        if not Path(program).exists():
            raise WebKitError(f"{program} is missing: `python3 build.py test` installs webkit2gtk-driver and xvfb")
    with contextlib.ExitStack() as stack:
        # A private home: nothing of the person's or another session's profile, caches or settings.
        home = stack.enter_context(tempfile.TemporaryDirectory(prefix="localhash-webkit-"))
        display = stack.enter_context(_xvfb())
        port = free_port()
        env = {**os.environ, "DISPLAY": display, "HOME": home}
        env |= {f"XDG_{kind}_HOME": os.path.join(home, kind.lower()) for kind in ("CONFIG", "DATA", "CACHE")}
        # Xvfb has no GPU, so WebKitGTK would composite the page with Mesa's software renderer (llvmpipe):
        # about 2 s of CPU before the hasher is ready, on 2 cores, that no phone pays (measured; ready
        # 8.3 s with it, 7.0 s without, medians of 5). The page's pixels never go through compositing.
        env["WEBKIT_DISABLE_COMPOSITING_MODE"] = "1"
        driver_process = stack.enter_context(_process_group([WEBDRIVER, f"--port={port}"], env))
        _wait_for_port(port, driver_process)
        options = Options()
        options.binary_location = MINIBROWSER
        options.add_argument("--automation")
        if proxy:
            options.set_capability("proxy", proxy)
        # Every command gets an answer within the script timeout and a margin: without one, a hung
        # driver would hang the tests. No driver.quit() at the end: it too would wait on a hung driver,
        # and ending the process group closes the browser in every case.
        client = ClientConfig(remote_server_addr=f"http://127.0.0.1:{port}", timeout=script_timeout + 60)
        driver = webdriver.Remote(command_executor=RemoteConnection(client_config=client), options=options)
        # Selenium's default uploads files to a Selenium Grid endpoint WebKitWebDriver does not have;
        # the driver runs on this machine and reads the path itself.
        driver.file_detector = UselessFileDetector()
        driver.set_script_timeout(script_timeout)
        yield driver


@contextlib.contextmanager
def _xvfb() -> Iterator[str]:
    """A private X display. -displayfd lets Xvfb pick a free display number and say so once it is
    ready, so two sessions never race for one (as `xvfb-run -a` can) and nothing sleeps."""
    read_end, write_end = os.pipe()
    command = [XVFB, "-displayfd", str(write_end), "-nolisten", "tcp", "-screen", "0", "1280x1024x24"]
    with contextlib.ExitStack() as stack:
        stack.callback(os.close, read_end)
        try:
            xvfb = stack.enter_context(_process_group(command, dict(os.environ), pass_fds=(write_end,)))
        finally:
            os.close(write_end)  # Xvfb holds its own copy: end of file now means Xvfb is gone
        if not select.select([read_end], [], [], START_TIMEOUT_S)[0]:
            raise WebKitError(f"Xvfb opened no display within {START_TIMEOUT_S} s")
        number = os.read(read_end, 64).decode().strip()  # one write of "N\n"
        if not number:
            raise WebKitError(f"Xvfb exited ({xvfb.wait()}) before opening a display")
        yield f":{number}"


@contextlib.contextmanager
def _process_group(command: list[str], env: dict[str, str], **kwargs) -> Iterator[subprocess.Popen]:
    """Run `command` as the leader of a new process group and end the whole group afterwards:
    MiniBrowser and its web, network and GPU processes are WebKitWebDriver's descendants and
    would outlive it (keeping Xvfb busy) if only the driver were stopped."""
    process = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL, **kwargs)
    try:
        yield process
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            deadline = time.monotonic() + 5
            while _group_alive(process.pid) and time.monotonic() < deadline:
                process.poll()  # reaps the leader; the others are reparented to init, which reaps them
                time.sleep(0.05)
            if not _group_alive(process.pid):
                break


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise WebKitError(f"WebKitWebDriver exited ({process.returncode}) on port {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise WebKitError(f"WebKitWebDriver did not listen on port {port} within {START_TIMEOUT_S} s")
