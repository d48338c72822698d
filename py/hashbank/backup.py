"""Backup and restore of a SQLite bank, whole and consistent, while it serves; PostgreSQL uses pg_dump.

A bank holds victims' cases for years, so a backup must never be half a file, never a mix of two
moments, and a restore must never silently replace cases. Both copy the whole database with
SQLite's online backup API (every table, whatever the schema version: `hashbank migrate` brings an
older backup up to date afterwards) and check the result with `PRAGMA integrity_check`.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

from .config import is_postgres_url

# The commands README documents and tests/bank/test_backup.py runs: pg_dump reads one consistent
# snapshot without blocking writers; pg_restore in one transaction leaves nothing behind when it fails
# (an existing table, a full disk), and --no-owner makes the restoring role (the bank's) the owner.
PG_BACKUP_COMMAND = 'pg_dump --format=custom --file=hashbank.dump "$DATABASE_URL"'
PG_RESTORE_COMMAND = 'pg_restore --single-transaction --exit-on-error --no-owner --dbname="$DATABASE_URL" hashbank.dump'


class BackupError(Exception):
    """A backup or restore refused or failed; `code` is what the CLI prints with the message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def sqlite_path(database: str) -> Path:
    return Path(database.removeprefix("sqlite:///"))  # as store.py reads it


def backup(database: str, target: Path) -> dict:
    """Copy the SQLite bank at `database` into the file `target`, atomically; what it holds."""
    if is_postgres_url(database):
        raise BackupError("use_pg_dump", f"a PostgreSQL bank is backed up with pg_dump: {PG_BACKUP_COMMAND}")
    source_path = sqlite_path(database)
    if not source_path.is_file():
        raise BackupError("not_found", f"no database at {source_path}")
    if target.is_dir() or not target.parent.is_dir():
        raise BackupError("usage", f"{target}: name a file in an existing folder")
    if target.exists() and target.resolve() == source_path.resolve():
        raise BackupError("usage", "the backup would overwrite the database itself")
    # mode=rw: a mistyped --database must not create an empty bank and back that up.
    source = _connect(source_path, "rw")
    try:
        summary = _copy_atomically(source, target)
    finally:
        source.close()
    return {"backup": str(target), "bytes": target.stat().st_size, **summary}


def _copy_atomically(source: sqlite3.Connection, target: Path) -> dict:
    """Copy into a hidden file beside `target`, check it, fsync it, and only then rename it to `target`."""
    # mkstemp: a name nobody else uses, in the target's folder (so the rename stays on one file
    # system), readable by this user only, like the database it copies.
    handle, partial_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(handle)
    partial = Path(partial_name)
    try:
        copy = sqlite3.connect(partial, isolation_level=None)
        try:
            # pages=-1, one step: the whole copy is read in ONE read transaction, a snapshot of committed
            # writes. In WAL mode the bank keeps writing meanwhile; a copy in several steps would restart
            # at every write of another connection and might never finish under load.
            source.backup(copy, pages=-1)
            # One self-contained file: no -wal beside it to lose when the backup is copied elsewhere.
            copy.execute("PRAGMA journal_mode = DELETE")
        except sqlite3.Error as exc:  # a full disk, a damaged database
            raise BackupError("backup_failed", str(exc)) from exc
        finally:
            copy.close()
        summary = _check_file(partial, "backup_failed")
        _fsync(partial)
        os.replace(partial, target)
        _fsync(target.parent)  # the rename itself survives a power cut
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return summary


def restore(backup_file: Path, database: str, overwrite: bool = False) -> dict:
    """Copy the backup into the SQLite bank at `database`, which must hold no case unless `overwrite`."""
    if is_postgres_url(database):
        raise BackupError("use_pg_restore", f"a PostgreSQL bank is restored with pg_restore: {PG_RESTORE_COMMAND}")
    if not backup_file.is_file():
        raise BackupError("not_found", f"no backup at {backup_file}")
    target_path = sqlite_path(database)
    if target_path.exists() and target_path.resolve() == backup_file.resolve():
        raise BackupError("usage", "the backup and the database are the same file")
    source = _connect(backup_file, "ro", "bad_backup")
    try:
        expected = _check(source, "bad_backup")  # before the database is touched
        if "cases" not in expected["tables"]:
            raise BackupError("bad_backup", f"{backup_file} is not a hash bank (no cases table)")
        cases = _cases_in(target_path) if target_path.exists() else 0
        if cases and not overwrite:
            raise BackupError(
                "not_empty", f"{target_path} holds {cases} cases; restore into an empty database, or add --overwrite"
            )
        target_path.parent.mkdir(parents=True, exist_ok=True)
        target = _connect(target_path, "rwc")
        try:
            # As store.py opens it. The copy is one write transaction of the target: a crash midway
            # leaves the database as it was, never half restored.
            target.execute("PRAGMA journal_mode = WAL")
            target.execute("PRAGMA synchronous = FULL")
            source.backup(target, pages=-1)
        except sqlite3.Error as exc:  # a full disk; a bank still serving this database, busy past the timeout
            raise BackupError("restore_failed", str(exc)) from exc
        finally:
            target.close()
    finally:
        source.close()
    restored = _check_file(target_path, "restore_failed")
    if restored["tables"] != expected["tables"]:
        raise BackupError("restore_failed", f"restored {restored['tables']}, the backup holds {expected['tables']}")
    return {"restored": str(backup_file), "database": str(target_path), **restored}


def _connect(path: Path, mode: str, code: str = "unreadable") -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, isolation_level=None, timeout=30)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a file that is not a database fails here
    except sqlite3.Error as exc:
        raise BackupError(code, f"cannot read {path} as a SQLite database: {exc}") from exc
    return conn


def _check(conn: sqlite3.Connection, code: str) -> dict:
    """integrity_check must say ok; then the rows of every table (an operator compares them)."""
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
        if problems != ["ok"]:
            raise BackupError(code, "integrity_check: " + "; ".join(problems[:5]))
        names = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
        tables = {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for (name,) in names}
    except sqlite3.DatabaseError as exc:
        raise BackupError(code, f"not a sound SQLite database: {exc}") from exc
    return {"integrity": "ok", "tables": tables}


def _check_file(path: Path, code: str) -> dict:
    """_check on a connection of its own: what is on disk, not what a connection still caches."""
    conn = _connect(path, "rw", code)  # not "ro": a WAL database without its -shm cannot be opened read-only
    try:
        return _check(conn, code)
    finally:
        conn.close()


def _cases_in(path: Path) -> int:
    conn = _connect(path, "rw")  # not "ro", as in _check_file
    try:
        has_cases = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cases'").fetchone()
        return conn.execute("SELECT count(*) FROM cases").fetchone()[0] if has_cases else 0
    finally:
        conn.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
