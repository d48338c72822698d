"""Backup and restore as an operator runs them: taken while cases keep arriving, restored into a fresh
database, where every case acknowledged before the backup began answers its PIN."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from hashbank import Config
from hashbank.backup import PG_BACKUP_COMMAND, PG_RESTORE_COMMAND
from hashbank.store import Store

from .conftest import ROOT, LiveBank, ServerProcess, case_body, hex_of
from .postgres import ensure_installed
from .test_server import hashbank

CLIENTS = 4
HASHES_PER_CASE = 3


class Submitters:
    """Threads posting cases to a served bank until stopped; every 201 is noted with its PIN and hashes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.acknowledged: list[tuple[str, str, list[str]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(CLIENTS)
        self._futures = [self._pool.submit(self._client, worker) for worker in range(CLIENTS)]

    def _client(self, worker: int) -> None:
        session, sent = requests.Session(), 0
        while not self._stop.is_set():
            sent += 1
            values = [hex_of(worker * 10**6 + sent * 10 + k, 64) for k in range(HASHES_PER_CASE)]
            pin = f"{100000 + sent}"
            body = case_body([{"type": "pdq", "value": v} for v in values], pin=pin)
            response = session.post(self.url + "/api/v1/cases", json=body, timeout=30)
            assert response.status_code == 201, response.text
            with self._lock:
                self.acknowledged.append((response.json()["case_number"], pin, values))

    def so_far(self, at_least: int = 0) -> list[tuple[str, str, list[str]]]:
        deadline = time.monotonic() + 60
        while len(self.acknowledged) < at_least and time.monotonic() < deadline:
            assert not any(f.done() for f in self._futures), [f.exception() for f in self._futures]
            time.sleep(0.01)
        with self._lock:
            return list(self.acknowledged)

    def stop(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True)
        for future in self._futures:
            future.result()  # a client's failed submission fails the test


def test_a_backup_under_load_restores_every_acknowledged_case(database, tmp_path, request):
    postgres = database.startswith("postgresql")
    server = ServerProcess(database, tmp_path / "server.log", "--create-limit", "0")
    try:
        load = Submitters(server.url)
        try:
            before = load.so_far(at_least=100)  # acknowledged before the backup began
            backup = pg_dump(database, tmp_path) if postgres else sqlite_backup(database, tmp_path)
            during = len(load.so_far()) - len(before)
        finally:
            load.stop()
    finally:
        server.stop()
    assert during > 0  # cases kept arriving while the backup ran

    if postgres:
        pg = request.getfixturevalue("postgres")
        restored = pg.new_database()
        request.addfinalizer(lambda: pg.drop_database(restored))
        pg_restore(backup, restored, tmp_path)
        assert_indexes_sound(restored)
    else:
        restored = str(tmp_path / "restored" / "bank.sqlite3")
        done = hashbank(restored, "restore", str(backup["path"]))
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["tables"] == backup["tables"]
        with sqlite3.connect(restored) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]

    # One moment, never half a case: every case restored has all its hashes.
    counts = table_rows(restored)
    assert len(before) <= counts["cases"] <= len(before) + during + CLIENTS
    assert counts["case_hashes"] == counts["hashes"] == HASHES_PER_CASE * counts["cases"]

    served = ServerProcess(restored, tmp_path / "restored.log")
    try:
        session = requests.Session()
        for number, pin, values in before:
            response = session.post(f"{served.url}/api/v1/cases/{number}/status", json={"pin": pin}, timeout=10)
            assert response.status_code == 200, (number, response.text)
            assert sorted(h["value"] for h in response.json()["hashes"]) == sorted(values)
        # The restored bank goes on numbering where the backup stopped (PostgreSQL: its sequences).
        new = session.post(served.url + "/api/v1/cases", json=case_body([{"type": "md5", "value": "f" * 32}]))
        assert new.status_code == 201, new.text
    finally:
        served.stop()


def sqlite_backup(database: str, tmp_path: Path) -> dict:
    path = tmp_path / "backups" / "bank.sqlite3"
    path.parent.mkdir()
    done = hashbank(database, "backup", str(path))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["integrity"] == "ok" and summary["tables"]["cases"] >= 100
    assert path.stat().st_mode & 0o777 == 0o600  # victims' cases: readable by the bank's user only
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no partial file left beside it
    return {"path": path, **summary}


def postgres_command(command: str, database: str, cwd: Path) -> subprocess.CompletedProcess:
    """README's command, run by a shell as an operator would, with the test cluster's own binaries."""
    env = {**os.environ, "PATH": f"{ensure_installed()}:/usr/bin:/bin", "DATABASE_URL": database}
    return subprocess.run(["sh", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def pg_dump(database: str, tmp_path: Path) -> dict:
    done = postgres_command(PG_BACKUP_COMMAND, database, tmp_path)
    assert done.returncode == 0, done.stderr
    return {"path": tmp_path / "hashbank.dump"}


def pg_restore(backup: dict, restored: str, tmp_path: Path) -> None:
    done = postgres_command(PG_RESTORE_COMMAND, restored, tmp_path)
    assert done.returncode == 0, done.stderr


def assert_indexes_sound(database: str) -> None:
    """PostgreSQL's integrity check: amcheck walks every B-tree index of the bank against its rules."""
    import psycopg

    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
        indexes = conn.execute(
            "SELECT c.oid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
        ).fetchall()
        assert len(indexes) >= 8
        for (index,) in indexes:
            conn.execute("SELECT bt_index_parent_check(%s::regclass, true)", (index,))


def table_rows(database: str) -> dict[str, int]:
    store = Store(database, read_threads=1)
    try:
        tables = ("cases", "case_hashes", "hashes")
        return store.read_sync(lambda tx: {t: tx.one(f"SELECT count(*) FROM {t}")[0] for t in tables})
    finally:
        store.close()


def test_pg_restore_into_a_bank_that_holds_cases_changes_nothing(postgres, tmp_path):
    database = postgres.new_database()
    bank = LiveBank(Config(database=database, create_limit=0)).start()
    try:
        bank.new_case()
    finally:
        bank.stop()
    assert postgres_command(PG_BACKUP_COMMAND, database, tmp_path).returncode == 0
    again = postgres_command(PG_RESTORE_COMMAND, database, tmp_path)
    assert again.returncode != 0 and "already exists" in again.stderr
    assert table_rows(database) == {"cases": 1, "case_hashes": 1, "hashes": 1}
    postgres.drop_database(database)


def served(database: str) -> LiveBank:
    return LiveBank(Config(database=database, create_limit=0)).start()


def test_restore_refuses_a_bank_that_holds_cases(tmp_path):
    kept, other = str(tmp_path / "kept.sqlite3"), str(tmp_path / "other.sqlite3")
    bank = served(kept)
    try:
        kept_case = bank.new_case(pin="111111")
    finally:
        bank.stop()
    assert hashbank(kept, "backup", str(tmp_path / "backup.sqlite3")).returncode == 0
    bank = served(other)
    try:
        other_case = bank.new_case(pin="222222")
    finally:
        bank.stop()

    refused = hashbank(other, "restore", str(tmp_path / "backup.sqlite3"))
    assert refused.returncode == 1 and refused.stdout == ""
    assert json.loads(refused.stderr)["error"]["code"] == "not_empty"
    bank = served(other)
    try:
        assert bank.status(other_case, "222222").status_code == 200  # untouched
    finally:
        bank.stop()

    assert hashbank(other, "restore", "--overwrite", str(tmp_path / "backup.sqlite3")).returncode == 0
    bank = served(other)
    try:
        assert bank.status(kept_case, "111111").status_code == 200
        assert bank.status(other_case, "222222").status_code == 404  # replaced, as asked
    finally:
        bank.stop()


def test_a_damaged_backup_is_refused_before_the_database_is_touched(tmp_path):
    database = str(tmp_path / "bank.sqlite3")
    bank = served(database)
    try:
        for n in range(200):
            bank.new_case([{"type": "sha256", "value": hex_of(n, 64)}])
    finally:
        bank.stop()
    good = tmp_path / "backup.sqlite3"
    assert hashbank(database, "backup", str(good)).returncode == 0
    data = bytearray(good.read_bytes())
    page = 4096
    damaged_page = tmp_path / "damaged.sqlite3"  # one page of the middle overwritten: a bad disk sector
    middle = len(data) // page // 2 * page
    damaged_page.write_bytes(data[:middle] + bytes([0x5A]) * page + data[middle + page :])
    truncated = tmp_path / "truncated.sqlite3"
    truncated.write_bytes(data[: len(data) // 2])
    not_a_bank = tmp_path / "other.sqlite3"
    with sqlite3.connect(not_a_bank) as conn:
        conn.execute("CREATE TABLE notes (text)")

    for bad in (damaged_page, truncated, not_a_bank, tmp_path / "missing.sqlite3"):
        target = tmp_path / "fresh" / "bank.sqlite3"
        done = hashbank(str(target), "restore", str(bad))
        assert done.returncode == 1, (bad, done.stdout)
        assert json.loads(done.stderr)["error"]["code"] in ("bad_backup", "not_found"), done.stderr
        assert not target.exists()
    assert hashbank(str(tmp_path / "fresh" / "bank.sqlite3"), "restore", str(good)).returncode == 0


def test_a_new_backup_replaces_the_old_one_only_once_complete(tmp_path):
    database, path = str(tmp_path / "bank.sqlite3"), tmp_path / "backup.sqlite3"
    bank = served(database)
    try:
        bank.new_case()
        assert json.loads(hashbank(database, "backup", str(path)).stdout)["tables"]["cases"] == 1
        bank.new_case()
        assert json.loads(hashbank(database, "backup", str(path)).stdout)["tables"]["cases"] == 2
    finally:
        bank.stop()
    # A failed backup (here: a mistyped database) leaves the last good one in place, and creates nothing.
    failed = hashbank(str(tmp_path / "typo.sqlite3"), "backup", str(path))
    assert failed.returncode == 1 and json.loads(failed.stderr)["error"]["code"] == "not_found"
    assert not (tmp_path / "typo.sqlite3").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if "backup" in p.name) == ["backup.sqlite3"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM cases").fetchone() == (2,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one self-contained file
    refused = hashbank(database, "backup", database)
    assert refused.returncode == 1 and json.loads(refused.stderr)["error"]["code"] == "usage"


def test_postgres_banks_are_pointed_to_the_commands_readme_documents(tmp_path):
    url = "postgresql://bank@/bank?host=/nowhere"
    for command, code, documented in (
        (["backup", str(tmp_path / "b")], "use_pg_dump", PG_BACKUP_COMMAND),
        (["restore", str(tmp_path / "b")], "use_pg_restore", PG_RESTORE_COMMAND),
    ):
        done = hashbank(url, *command)
        assert done.returncode == 1
        error = json.loads(done.stderr)["error"]
        assert error["code"] == code and documented in error["message"]
        assert documented in (ROOT / "README.md").read_text()  # the very command the tests above run
