"""Browser tests: build dist/ once, serve it on a free port (with a recording /api/), drive Chromium."""

from __future__ import annotations

import base64
import functools
import json
import random
import shutil
import threading
from pathlib import Path

import pytest

from site_build import headers
from site_build.dist import build
from site_build.serve import SiteHandler
from tests.conftest import ROOT


class RecordingHandler(SiteHandler):
    """The site's own handler, plus a stand-in submission endpoint that records what it receives,
    and a log of every request it answers (method, path, headers)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # A malformed request line is answered before there is a path or headers.
        request = {"method": self.command, "path": getattr(self, "path", None)}
        self.server.requests.append({**request, "headers": dict(getattr(self, "headers", None) or {})})

    def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.recorded.append({"path": self.path, "headers": dict(self.headers), "body": body})
        answer = json.dumps({"case_number": "TEST-CASE"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


class Server:
    def __init__(self, directory: Path, prefix: str = ""):
        import http.server

        handler = functools.partial(
            RecordingHandler, directory=str(directory), site_headers=headers.security_headers("api/")
        )
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.recorded = []
        self.httpd.requests = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = f"{self.origin}/{prefix}"

    @property
    def recorded(self) -> list[dict]:
        """The POSTs to the stand-in endpoint, with their bodies."""
        return self.httpd.recorded

    @property
    def requests(self) -> list[dict]:
        """Every request answered, in order."""
        return self.httpd.requests

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> Path:
    """A fresh build of the site, shared by every browser test."""
    return build(ROOT, tmp_path_factory.mktemp("site") / "dist")


@pytest.fixture(scope="session")
def site(dist):
    server = Server(dist)
    yield server
    server.close()


@pytest.fixture
def page(browser, site):
    """A new browser context on the site, with the hasher ready; console errors are collected."""
    context = browser.new_context()
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(site.url)
    page.evaluate("window.localhash.ready")
    yield page
    context.close()


HASH_IN_PAGE = """async ([b64, options]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return await window.localhash.hashFile(new Blob([bytes]), options);
}"""


def hash_in_page(page, data: bytes, **options) -> dict:
    """The record the page's window.localhash.hashFile gives for these bytes."""
    return page.evaluate(HASH_IN_PAGE, [base64.b64encode(data).decode(), options])


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


RUNTIME = "pyodide-0123456789abcdef"  # a content-addressed runtime folder, named as the build names it


def make_site(site: Path) -> Path:
    """A small site for the serving tests, with no siblings yet: text and a wasm that compress (one of
    each in the runtime folder), and a tiny file, random bytes (as an image or a deflated wheel) and
    `_headers`, which get none."""
    (site / RUNTIME).mkdir(parents=True)
    for name in ("index.html", "app.js"):
        shutil.copyfile(ROOT / "web" / name, site / name)
    shutil.copyfile(ROOT / "node_modules" / "pyodide" / "pyodide.mjs", site / RUNTIME / "pyodide.mjs")
    (site / RUNTIME / "tiny.wasm").write_bytes(b"\0asm\1\0\0\0" + bytes(range(256)) * 64)
    (site / "config.json").write_text('{"endpoint": "api/"}\n')
    (site / "photo.png").write_bytes(random.Random(0).randbytes(8192))
    (site / "_headers").write_text(headers.netlify_headers_file("api/") * 4)
    return site
