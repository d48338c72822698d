"""The victim's flow end to end: one built dist/, served by the real hash bank (create_app with
static_dir) on a free port with a fresh SQLite file, and Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hashbank import Config
from hashbank.partners import add_partner
from hashbank.store import Store
from site_build import headers
from site_build.dist import build
from tests.bank.conftest import LiveBank
from tests.conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "flow"


class SiteAndBank(LiveBank):
    """`python3 build.py serve`'s arrangement: the bank app serving dist/ and the API on one origin."""

    def __init__(self, dist: Path, database: Path) -> None:
        self.database = str(database)
        # Exactly the config `build.py serve` gives the bank (site_build/serve.py), limits included.
        super().__init__(
            Config(database=self.database, static_dir=dist, static_headers=headers.security_headers("api/"))
        )
        self.url = self.origin + "/"  # the page
        self.start()

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
