"""Fixtures for the hash bank: a fresh database per test (SQLite file or PostgreSQL database),
the bank served for real over HTTP on a free loopback port, partners with keys."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests
import uvicorn

from hashbank import Config, create_app
from hashbank.partners import add_partner
from hashbank.store import Store
from site_build.system import free_port
from tests.conftest import ROOT

from .postgres import PostgresServer, PostgresUnavailable

CONSENT = {"adult": True, "depicted": True, "intimate": True, "share_hashes": True}
BACKENDS = ["sqlite", "postgresql"]


def hex_of(n: int, digits: int) -> str:
    return f"{n:0{digits}x}"[-digits:]


def case_body(hashes: list[dict] | None = None, pin: str = "246810", **extra) -> dict:
    if hashes is None:
        hashes = [{"type": "pdq", "value": "a" * 64, "quality": 90}]
    body = {"pin": pin, "hashes": hashes, "consent": CONSENT}
    return {**body, **extra}


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    try:
        with PostgresServer() as server:
            yield server
    except PostgresUnavailable as exc:
        pytest.fail(f"the bank's PostgreSQL tests need a PostgreSQL server: {exc}")


@pytest.fixture(params=BACKENDS)
def database(request, tmp_path) -> Iterator[str]:
    """A fresh, empty database for this test: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "bank.sqlite3")
        return
    server = request.getfixturevalue("postgres")
    url = server.new_database()
    yield url
    server.drop_database(url)


class LiveBank:
    """create_app(config) served by uvicorn in a thread of this process, on a free port."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.url = self.origin
        self.http = requests.Session()
        self.server = uvicorn.Server(
            uvicorn.Config(create_app(config), host="127.0.0.1", port=self.port, access_log=False, log_level="warning")
        )
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    def start(self) -> LiveBank:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the bank did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.http.close()

    # -- helpers the tests read like sentences -----------------------------------------------

    def post(self, path: str, body=None, **kwargs) -> requests.Response:
        return self.http.post(self.origin + path, json=body, **kwargs)

    def create(self, body: dict | None = None, **kwargs) -> requests.Response:
        return self.post("/api/v1/cases", body or case_body(), **kwargs)

    def new_case(self, hashes: list[dict] | None = None, pin: str = "246810") -> str:
        response = self.create(case_body(hashes, pin))
        assert response.status_code == 201, response.text
        return response.json()["case_number"]

    def status(self, case: str, pin: str = "246810") -> requests.Response:
        return self.post(f"/api/v1/cases/{case}/status", {"pin": pin})

    def withdraw(self, case: str, pin: str = "246810") -> requests.Response:
        return self.post(f"/api/v1/cases/{case}/withdraw", {"pin": pin})

    def add_partner(self, name: str = "Example Platform") -> dict[str, str]:
        store = Store(self.config.database, read_threads=1)
        try:
            return add_partner(store, name)
        finally:
            store.close()

    def rows(self, table: str) -> int:
        """How many rows a table holds (read straight from the database)."""
        store = Store(self.config.database, read_threads=1)
        try:
            return store.read_sync(lambda tx: tx.one(f"SELECT count(*) FROM {table}")[0])
        finally:
            store.close()

    def fetch(self, keys: dict[str, str], **params) -> requests.Response:
        return self.http.get(self.origin + "/v1/FetchHashes", params=params, headers=partner_headers(keys))


def partner_headers(keys: dict[str, str]) -> dict[str, str]:
    return {"Ocp-Apim-Subscription-Key": keys["subscription_key"], "x-functions-key": keys["function_key"]}


@pytest.fixture
def config(database) -> Config:
    # The per-client creation limit is tested on its own; elsewhere every client is 127.0.0.1.
    return Config(database=database, create_limit=0)


@pytest.fixture
def make_bank(config) -> Iterator:
    started: list[LiveBank] = []

    def make(**changes) -> LiveBank:
        bank = LiveBank(replace(config, **changes)).start()
        started.append(bank)
        return bank

    yield make
    for bank in started:
        bank.stop()


@pytest.fixture
def bank(make_bank) -> LiveBank:
    return make_bank()


class ServerProcess:
    """`python -m hashbank --database DB serve` as a real subprocess (for kill -9 and log checks)."""

    def __init__(self, database: str, log_path: Path, *args: str) -> None:
        self.database = database
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {**os.environ, "PYTHONPATH": str(ROOT / "py")}
        cmd = [sys.executable, "-m", "hashbank", "--database", database, "serve", "--port", str(self.port), *args]
        self.log = open(log_path, "ab")  # noqa: SIM115  closed in stop()
        self.process = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=log_path.parent)
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(self.url + "/api/openapi.json", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"hashbank serve did not start:\n{log_path.read_text()}")
            time.sleep(0.05)

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            self.process.wait(30)
        self.log.close()
