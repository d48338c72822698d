"""The built site as the bank serves it: a precompressed sibling when the client accepts it, Cache-Control by path."""

from __future__ import annotations

import mimetypes
import os
import re
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

# Content codings whose files the site carries beside the original (site_build/precompress.py), in order of
# preference at equal weight: brotli is the smaller.
SIBLINGS = {"br": ".br", "gzip": ".gz"}
ALIASES = {"x-gzip": "gzip"}  # RFC 9110 8.4.1.3: a recipient should treat x-gzip as gzip


def _weights(accept_encoding: str) -> dict[str, float]:
    """Each coding an Accept-Encoding header names, with its weight (RFC 9110 12.4.2: q, 0 to 1, default 1)."""
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        coding = ALIASES.get(coding.lower(), coding.lower())
        if not coding or coding in weights:
            continue
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    weight = 0.0  # a weight we cannot read is no consent
        weights[coding] = weight
    return weights


def choose_encoding(accept_encoding: str | None, available: Iterable[str]) -> str | None:
    """Which of the `available` codings to send, or None for the file as it is.

    RFC 9110 12.5.3: `*` stands for every coding the header does not name; q=0 refuses a coding; the
    file as it is ("identity") is acceptable unless refused. The highest weight wins, brotli before
    gzip before identity at equal weight; identity, unless named (or `*` is), is the fallback, not a
    competitor at q=1 ("br;q=0.8" asks for brotli). No header: the file as it is, as nginx and Apache
    do (the RFC allows any coding then, but a client that sends none may well decode none).
    """
    if accept_encoding is None:
        return None
    weights = _weights(accept_encoding)
    anything = weights.get("*")
    candidates = [(weights.get(coding, anything or 0.0), coding) for coding in SIBLINGS if coding in available]
    identity = weights.get("identity", anything or 0.0)
    best = max((c for c in candidates if c[0] > 0), key=lambda c: c[0], default=None)  # first of the highest
    return best[1] if best and best[0] >= identity else None


class SiteFiles(StaticFiles):
    """StaticFiles for a built site (index.html for folders), sending `<file>.br` or `<file>.gz` with
    Content-Encoding when the client accepts it, `Vary: Accept-Encoding` on every file that has one, and
    Cache-Control from `cache_rules`: (regex, value) pairs, the first whose regex is found in the file's
    path relative to the site wins (hashbank.Config.static_cache_rules; none matching: no header).

    A sibling is its own representation: its own ETag, Last-Modified and length, and byte ranges
    (Starlette's FileResponse) count its bytes: a range is of the representation as sent (RFC 9110 section 14)."""

    def __init__(self, *, directory: str | os.PathLike[str], cache_rules: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(directory=directory, html=True)
        self.root = os.path.realpath(directory)
        self.cache_rules = [(re.compile(pattern), value) for pattern, value in cache_rules]

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        request = Headers(scope=scope)
        full_path = os.fspath(full_path)
        available = [coding for coding, suffix in SIBLINGS.items() if os.path.isfile(full_path + suffix)]
        coding = choose_encoding(request.get("accept-encoding"), available)
        if coding is None:
            response = super().file_response(full_path, stat_result, scope, status_code)
        else:
            sibling = full_path + SIBLINGS[coding]
            response = FileResponse(
                sibling,
                status_code=status_code,
                headers={"Content-Encoding": coding},
                media_type=mimetypes.guess_type(full_path)[0] or "application/octet-stream",  # the original's
                stat_result=os.stat(sibling),
            )
            if self.is_not_modified(response.headers, request):
                response = NotModifiedResponse(response.headers)
        if available:
            response.headers["Vary"] = "Accept-Encoding"
        rel = os.path.relpath(full_path, self.root).replace(os.sep, "/")
        cache_control = next((value for pattern, value in self.cache_rules if pattern.search(rel)), None)
        if cache_control:
            response.headers["Cache-Control"] = cache_control
        return response
