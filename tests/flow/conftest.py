"""The victim's flow end to end: one built dist/, served by the real hash bank (create_app with
static_dir) on a free port with a fresh SQLite file, and Chromium."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from hashbank import Config, create_app
from hashbank.partners import add_partner
from hashbank.store import Store
from site_build import headers
from site_build.dist import build
from tests.conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "flow"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SiteAndBank:
    """`python3 build.py serve`'s arrangement: the bank app serving dist/ and the API on one origin."""

    def __init__(self, dist: Path, database: Path) -> None:
        self.database = str(database)
        # Exactly the config `build.py serve` gives the bank (site_build/serve.py), limits included.
        config = Config(database=self.database, static_dir=dist, static_headers=headers.security_headers("api/"))
        app = create_app(config)
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.url = self.origin + "/"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, access_log=False, log_level="warning")
        )
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the bank did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    def _store(self) -> Store:
        return Store(self.database, read_threads=1)

    def add_partner(self, name: str) -> dict[str, str]:
        """A platform's keys, made with the bank's own Python API (what `partner add` prints)."""
        store = self._store()
        try:
            return add_partner(store, name)
        finally:
            store.close()

    def count(self, table: str) -> int:
        store = self._store()
        try:
            return store.read_sync(lambda tx: tx.one(f"SELECT count(*) FROM {table}")[0])
        finally:
            store.close()


@pytest.fixture(scope="session")
def flow_dist(tmp_path_factory) -> Path:
    return build(ROOT, tmp_path_factory.mktemp("flow") / "dist")


@pytest.fixture(scope="session")
def served(flow_dist, tmp_path_factory) -> Iterator[SiteAndBank]:
    server = SiteAndBank(flow_dist, tmp_path_factory.mktemp("bank") / "bank.sqlite3")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium(browser):
    """The session's one Chromium (tests/conftest.py): Playwright's sync API allows one per thread."""
    return browser


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"\nflow screenshots: {ARTIFACTS}")
    return ARTIFACTS
