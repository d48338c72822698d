"""Counts and latencies of every request, counted in one middleware, served at /metrics for Prometheus.

Labels are the route's template (`/api/v1/cases/{case}/status`, never the path, which holds the case
number), the method, the status and the API's error `code`: each from a small fixed set, so no case
number, PIN, hash, address or key can become a label value, and a client cannot grow the series count.

With `hashbank serve --workers N` each worker is a process of its own: serve gives them one private
PROMETHEUS_MULTIPROC_DIR, each writes its counts there (prometheus_client's multiprocess mode), and
whichever worker answers a scrape sums every worker's files, so a scrape sees the whole server.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.values import ValueClass
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own name for it
# A scrape token is the only guard of /metrics: long enough that guessing it is hopeless.
MIN_TOKEN_LENGTH = 16
# Measured by bench/bank.py: submissions p50/p99 11/25 ms, FetchHashes pages 6/9 ms, so the buckets are dense
# between 1 and 100 ms; 30 s is SQLite's busy_timeout (store.py), the longest a request waits for a lock.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Any other method a client invents is "other": the label set stays fixed whatever is sent.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# The API's error codes are constants in our code (errors.py's callers); this only keeps anything else out.
ERROR_CODE = re.compile(r"[a-z_]{1,40}")
ERROR_BODY_LIMIT = 4096  # an error answer is one short JSON object; anything longer is not one of ours
# The successful answers worth a name of their own: (method, route) -> (metric, what it counts).
EVENTS = {
    ("POST", "/api/v1/cases"): ("hashbank_new_cases", "Cases stored (201), Idempotency-Key replays not counted"),
    ("POST", "/api/v1/cases/{case}/status"): ("hashbank_status_checks", "Case statuses shown to their PIN's holder"),
    ("POST", "/api/v1/cases/{case}/withdraw"): ("hashbank_withdrawals", "Withdrawals answered 200 (repeats too)"),
    ("GET", "/v1/FetchHashes"): ("hashbank_partner_fetches", "FetchHashes pages served to partners"),
    ("POST", "/v1/SubmitFeedback"): ("hashbank_partner_feedback", "SubmitFeedback requests applied"),
}


class BankMetrics:
    """The counters of one app and their exposition (summed over worker processes in multiprocess mode)."""

    def __init__(self) -> None:
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV)
        if self.multiprocess_dir and not ValueClass._multiprocess:
            raise RuntimeError(f"{MULTIPROC_ENV} must be set before prometheus_client is first imported")
        # In multiprocess mode the values live in the folder's files, and each scrape reads them all afresh;
        # otherwise each app has its own registry (several apps in one process, as in tests, never mix).
        self.registry = None if self.multiprocess_dir else CollectorRegistry()
        labels = {"registry": self.registry}
        self.requests = Counter("hashbank_requests", "Requests answered", ["route", "method", "status"], **labels)
        self.errors = Counter("hashbank_errors", "Error answers by the API's error code", ["route", "code"], **labels)
        self.latency = Histogram(
            "hashbank_request_duration_seconds",
            "Time from a request's arrival to the end of its answer",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            **labels,
        )
        self.events = {key: Counter(name, text, **labels) for key, (name, text) in EVENTS.items()}

    def observe(self, route: str, method: str, status: int, code: str | None, replayed: bool, seconds: float) -> None:
        method = method if method in METHODS else "other"
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)
        if status >= 400:
            self.errors.labels(route, code or "other").inc()
        event = self.events.get((method, route))
        if event is not None and 200 <= status < 300 and not replayed:
            event.inc()

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The text a scrape gets, in the format its Accept header asks for (Prometheus text or OpenMetrics)."""
        registry = self.registry
        if registry is None:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, self.multiprocess_dir)
        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type


def route_template(scope: Scope, root_path: str) -> str:
    """The template of the route that answered: Starlette's routers record the matched route in the scope,
    and each Mount extends root_path by the path it matched, constant because none of app.py's mounts has a
    parameter. A Mount that answered itself (the site, CORS preflights, paths under /api that match no
    route) is its prefix plus `/{path}`."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    prefix = scope.get("root_path", "")[len(root_path) :]
    if isinstance(route, Mount):
        return prefix + "/{path}"
    return prefix + getattr(route, "path", "/{path}")


class _Answer:
    """What the middleware saw of one answer: its status, whether it replayed a case, an error's body."""

    def __init__(self) -> None:
        self.status = 0
        self.replayed = False
        self.is_json = False
        self.body = b""

    def start(self, message: Message) -> None:
        self.status = message["status"]
        headers = dict(message.get("headers", []))
        self.replayed = headers.get(b"idempotent-replayed") == b"true"
        self.is_json = headers.get(b"content-type", b"").startswith(b"application/json")

    def keep_error_body(self, message: Message) -> None:
        if self.status >= 400 and self.is_json and len(self.body) < ERROR_BODY_LIMIT:
            self.body += message.get("body", b"")[:ERROR_BODY_LIMIT]

    def error_code(self) -> str | None:
        """The `code` of an `{"error": {"code", "message"}}` answer (errors.py), else None."""
        try:
            code = json.loads(self.body)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return None
        return code if isinstance(code, str) and ERROR_CODE.fullmatch(code) else None


class CountRequests:
    """ASGI middleware: one observation per HTTP request, after its answer was sent."""

    def __init__(self, app: ASGIApp, metrics: BankMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        root_path = scope.get("root_path", "")
        answer = _Answer()

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.start(message)
            elif message["type"] == "http.response.body":
                answer.keep_error_body(message)
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            # The exception goes on to the app's outermost handler (app.py's _crash), which answers this.
            if not answer.status:
                answer.status, answer.is_json, answer.body = 500, True, b'{"error": {"code": "internal_error"}}'
            raise
        finally:
            if answer.status:  # else the client left before any answer: nothing was answered to count
                self.metrics.observe(
                    route_template(scope, root_path),
                    scope["method"],
                    answer.status,
                    answer.error_code(),
                    answer.replayed,
                    time.perf_counter() - started,
                )


def metrics_endpoint(metrics: BankMetrics, token: str | None):
    """GET /metrics: 404 unless the operator set a scrape token, then only with `Authorization: Bearer TOKEN`."""
    expected = f"Bearer {token}".encode() if token else None

    async def serve_metrics(request: Request) -> Response:
        if expected is None:
            return error_response(404, "not_found", "metrics are off (set HASHBANK_METRICS_TOKEN)")
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return error_response(
                401, "unauthorized", "send Authorization: Bearer <the metrics token>", {"WWW-Authenticate": "Bearer"}
            )
        body, content_type = metrics.exposition(request.headers.get("accept"))
        return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})

    return serve_metrics
