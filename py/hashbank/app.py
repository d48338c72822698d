"""create_app(config): the routes, the error shape, CORS, and (optionally) the static site."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import openapi
from .config import Config
from .context import Bank
from .errors import ApiError, error_response
from .health import HealthCheck
from .metrics import BankMetrics, CountRequests, metrics_endpoint
from .partners import fetch_hashes, submit_feedback
from .static import SiteFiles
from .store import Store
from .victims import case_status, create_case, withdraw_case

log = logging.getLogger("hashbank")

# A wrong type for .wasm makes the browser refuse to compile Pyodide; say it whatever the OS's table says.
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("text/javascript", ".js")

# Answers hold case status and partner data: never cached, never sniffed, never referred.
API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


class AddHeaders:
    """ASGI middleware: add fixed headers to every HTTP response of the wrapped app."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in self.headers}
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in names]
                message = {**message, "headers": kept + self.headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _openapi(request: Request) -> JSONResponse:
    return JSONResponse(openapi.document())


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), exc.detail, exc.headers)


async def _crash(request: Request, exc: Exception) -> Response:
    # The traceback goes to the server's own log, without the request (no address, no headers).
    log.error("internal error", exc_info=exc)
    return error_response(500, "internal_error", "the bank failed to answer; nothing was stored by this request")


def create_app(
    config: Config | None = None, static_dir: Path | None = None, static_headers: dict[str, str] | None = None
) -> Starlette:
    """The hash bank as an ASGI app: the victim API under /api, the partner API under /v1, /healthz and
    /metrics for operators, and when `static_dir` is given (here or in config) that folder at / with
    `static_headers`."""
    config = config or Config()
    if static_dir is not None:
        config = replace(config, static_dir=Path(static_dir))
    if static_headers is not None:
        config = replace(config, static_headers=dict(static_headers))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = Store(config.database, config.read_threads)
        app.state.bank = Bank(config, store)
        try:
            yield
        finally:
            await asyncio.get_running_loop().run_in_executor(None, store.close)

    victim: ASGIApp = Router(
        [
            Route("/v1/cases", create_case, methods=["POST"]),
            Route("/v1/cases/{case}/status", case_status, methods=["POST"]),
            Route("/v1/cases/{case}/withdraw", withdraw_case, methods=["POST"]),
            Route("/openapi.json", _openapi, methods=["GET"]),
        ]
    )
    if config.cors_origins:
        victim = CORSMiddleware(
            victim,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Idempotency-Key"],
            expose_headers=["Retry-After"],
            max_age=600,
        )
    partner = Router(
        [
            Route("/FetchHashes", fetch_hashes, methods=["GET"]),
            Route("/SubmitFeedback", submit_feedback, methods=["POST"]),
        ]
    )
    metrics = BankMetrics()
    routes = [
        Route("/healthz", HealthCheck().respond, methods=["GET"]),
        Route("/metrics", metrics_endpoint(metrics, config.metrics_token), methods=["GET"]),
        Mount("/api", app=AddHeaders(victim, API_HEADERS)),
        Mount("/v1", app=AddHeaders(partner, API_HEADERS)),
    ]
    if config.static_dir is not None:
        site = SiteFiles(directory=config.static_dir, cache_rules=config.static_cache_rules)
        routes.append(Mount("/", app=AddHeaders(site, config.static_headers)))
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(CountRequests, metrics=metrics)],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _crash},
    )
