"""GET /healthz: 200 while the database answers a read and the writer in time, 503 otherwise."""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .context import bank_of
from .errors import error_response
from .store import Store, Tx

# A probe that takes longer than this says the database is not answering. Well under the 30 s a request
# may wait for a SQLite lock (store.py's busy_timeout), above what a busy bank's group commit takes
# (bench/bank.py: submissions p99 25 ms); a load balancer's probe timeout must be longer (README).
HEALTH_TIMEOUT_SECONDS = 2.0
NO_STORE = {"Cache-Control": "no-store"}


def _read_probe(tx: Tx) -> None:
    # A row of a real table, not `SELECT 1`: SQLite answers that without opening the file at all.
    tx.one("SELECT id FROM cases LIMIT 1")


def _write_probe(tx: Tx) -> None:
    # Nothing to write: getting a write transaction begun and committed is the test (SQLite's write lock,
    # the writer thread, PostgreSQL's writer connection); an empty commit writes nothing to disk.
    return None


async def _probe(store: Store) -> None:
    await store.read(_read_probe)
    await store.write(_write_probe)


class HealthCheck:
    """The /healthz endpoint of one app. At most one probe is in flight: a database that hangs holds a reader
    thread and the writer, and piling a new probe behind it every few seconds would only lengthen the queue.
    While the probe in flight is younger than the timeout, requests wait for it; once older, they get 503."""

    def __init__(self, timeout: float = HEALTH_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        self._probe: asyncio.Task | None = None
        self._deadline = 0.0

    async def respond(self, request: Request) -> Response:
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(_probe(bank_of(request).store))
            self._probe.add_done_callback(_retrieve_exception)
            self._deadline = time.monotonic() + self.timeout
        try:
            # shield: a request that gives up must not cancel the probe other requests are waiting for.
            await asyncio.wait_for(asyncio.shield(self._probe), max(0.0, self._deadline - time.monotonic()))
        except Exception:  # timed out, or the database refused (any driver's error): not answering
            return error_response(503, "database_unavailable", "the database is not answering", NO_STORE)
        return JSONResponse({"ok": True}, headers=NO_STORE)


def _retrieve_exception(task: asyncio.Task) -> None:
    # A probe that failed after every waiter gave up would otherwise log "exception was never retrieved".
    if not task.cancelled():
        task.exception()
