"""Serve dist/ on 127.0.0.1 with the right MIME types, the site's security and cache headers, precompressed files."""

from __future__ import annotations

import functools
import http.server
import mimetypes
import os
from pathlib import Path
from urllib.parse import urlsplit

from hashbank.static import SIBLINGS, choose_encoding

from . import headers

# A wrong type for .wasm makes loadPyodide hang forever without an error.
MIME_TYPES = {
    ".wasm": "application/wasm",
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".json": "application/json",
    ".whl": "application/zip",
    ".zip": "application/zip",
}


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """The stdlib's file server, plus: a file's .br or .gz sibling (site_build/precompress.py) with
    Content-Encoding when the client accepts it (the stdlib ignores Range, so a range request gets the
    whole representation), `Vary: Accept-Encoding` on files that have siblings, Cache-Control by path."""

    extensions_map = {**mimetypes.types_map, **MIME_TYPES}
    # What the response being written is: the file (relative to the site), the coding sent, whether it has
    # siblings. Set per request by send_head; the defaults stand for anything that is not a file.
    served: str | None = None
    coding: str | None = None
    varies = False

    def __init__(self, *args, site_headers: dict[str, str], **kwargs):
        self.site_headers = site_headers
        super().__init__(*args, **kwargs)

    def send_head(self):
        self.served, self.coding, self.varies = None, None, False
        path = self.translate_path(self.path)
        if os.path.isdir(path) and urlsplit(self.path).path.endswith("/"):
            path = os.path.join(path, "index.html")  # what the stdlib sends for a folder
        if os.path.isfile(path):
            self.served = os.path.relpath(path, self.directory).replace(os.sep, "/")
            available = [coding for coding, suffix in SIBLINGS.items() if os.path.isfile(path + suffix)]
            self.varies = bool(available)
            self.coding = choose_encoding(self.headers.get("Accept-Encoding"), available)
        return super().send_head()

    def translate_path(self, path: str) -> str:
        translated = super().translate_path(path)
        if self.coding is None:
            return translated
        if os.path.isdir(translated):
            translated = os.path.join(translated, "index.html")
        return translated + SIBLINGS[self.coding]  # the stdlib then opens, sizes and dates the sibling

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        path = os.fspath(path)
        return super().guess_type(path.removesuffix(SIBLINGS[self.coding]) if self.coding else path)

    def end_headers(self) -> None:
        for name, value in self.site_headers.items():
            self.send_header(name, value)
        # A year for a file of the runtime folder; not for an error there, nor anything that is not a file.
        self.send_header("Cache-Control", headers.cache_control(self.served) if self.served else headers.REVALIDATE)
        if self.coding:
            self.send_header("Content-Encoding", self.coding)
        if self.varies:
            self.send_header("Vary", "Accept-Encoding")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002  no client addresses in logs
        pass


def make_server(site: Path, host: str, port: int, endpoint: str) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(SiteHandler, directory=str(site), site_headers=headers.security_headers(endpoint))
    return http.server.ThreadingHTTPServer((host, port), handler)


def serve_with_bank(site: Path, host: str, port: int, endpoint: str, database: str) -> None:
    """The site and the embedded hash bank on one origin (what `python3 build.py serve` runs).

    Runs inside .venv/ (Starlette and uvicorn); the bank serves dist/ at / with the site's headers.
    """
    import uvicorn

    from hashbank.app import create_app
    from hashbank.config import Config
    from hashbank.schema import SchemaMismatch
    from hashbank.store import Store

    try:  # an empty database gets the schema; one at another version is refused with what to run
        Store(database, read_threads=1).close()
    except SchemaMismatch as exc:
        here = f"PYTHONPATH=py .venv/bin/python -m hashbank --database {database} migrate"
        raise SystemExit(f"{database}: {exc.message}\n(from this checkout: {here})") from None

    config = Config(
        database=database,
        static_dir=site,
        static_headers=headers.security_headers(endpoint),
        static_cache_rules=headers.CACHE_RULES,
    )
    # access_log=False: no client address or request line is ever logged.
    uvicorn.run(create_app(config), host=host, port=port, access_log=False, server_header=False, log_level="warning")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="serve a built site and the hash bank on one origin")
    parser.add_argument("site")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--endpoint", default="api/")
    parser.add_argument("--database", default="data/hashbank.sqlite3")
    args = parser.parse_args()
    serve_with_bank(Path(args.site), args.host, args.port, args.endpoint, args.database)
