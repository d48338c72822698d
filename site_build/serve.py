"""Serve dist/ on 127.0.0.1 with the right MIME types and the site's security headers."""

from __future__ import annotations

import functools
import http.server
import mimetypes
from pathlib import Path

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
    extensions_map = {**mimetypes.types_map, **MIME_TYPES}

    def __init__(self, *args, site_headers: dict[str, str], **kwargs):
        self.site_headers = site_headers
        super().__init__(*args, **kwargs)

    def end_headers(self) -> None:
        for name, value in self.site_headers.items():
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-cache")
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

    config = Config(database=database, static_dir=site, static_headers=headers.security_headers(endpoint))
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
