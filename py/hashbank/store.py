"""One small store over SQLite (default) or PostgreSQL: reads on a thread pool, group-committed writes.

Every query is written once, with `?` placeholders, and runs on both databases; the only dialect
words are the auto-numbered key in schema.sql, how a transaction begins, and how schema.py lists tables.

Writes go through ONE writer thread per process. It takes every write waiting in its queue
(up to `MAX_BATCH`), runs each inside its own SAVEPOINT (one failing write does not undo the
others) and commits them together: one commit, and with SQLite one fsync, for a whole burst of
submissions. A write's caller is answered only after that commit returned, so nothing is
acknowledged before it is durable.
"""

from __future__ import annotations

import asyncio
import functools
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from . import schema
from .config import is_postgres_url

MAX_BATCH = 256
T = TypeVar("T")

BEGIN_WRITE = {"sqlite": "BEGIN IMMEDIATE", "postgresql": "BEGIN"}
BEGIN_READ = {"sqlite": "BEGIN", "postgresql": "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"}


@functools.lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    return sql.replace("?", "%s")


def placeholders(count: int) -> str:
    """`?, ?, ?` for an IN list or a VALUES row of `count` items."""
    return ", ".join("?" * count)


class Tx:
    """A transaction in progress: run `?`-style SQL, and `now`, the clock of this transaction."""

    def __init__(self, conn: Any, dialect: str, now: int) -> None:
        self.conn = conn
        self.dialect = dialect
        self.now = now

    def _sql(self, sql: str) -> str:
        return _pg_sql(sql) if self.dialect == "postgresql" else sql

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.conn.execute(self._sql(sql), params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        return self.conn.execute(self._sql(sql), params).fetchone()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(self._sql(sql), params).rowcount

    def in_list(self, column: str, values: Sequence[Any]) -> tuple[str, tuple]:
        """`column IN (...)` for these values, as SQL and its parameters. PostgreSQL gets one array
        (`= ANY(?)`): with 800 separate parameters it spends longer binding and planning than running."""
        if self.dialect == "postgresql":
            return f"{column} = ANY(?)", (list(values),)
        return f"{column} IN ({placeholders(len(values))})", tuple(values)

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        if self.dialect == "postgresql":
            self.conn.cursor().executemany(self._sql(sql), rows)
        else:
            self.conn.executemany(sql, rows)


def dialect_of(database: str) -> str:
    return "postgresql" if is_postgres_url(database) else "sqlite"


def connect(database: str) -> Any:
    """A new connection to `database` (a SQLite path or a postgresql:// URL), set up as the bank needs."""
    if dialect_of(database) == "postgresql":
        import psycopg  # only PostgreSQL deployments need it

        conn = psycopg.connect(database, autocommit=True)
        # The feed's working set sits in memory: make index lookups look as cheap as they are, or
        # the planner answers "hash_id = ANY(800 ids)" with a sequential scan.
        conn.execute("SET random_page_cost = 1.1")
        return conn
    path = Path(database.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we say BEGIN and COMMIT ourselves, as with PostgreSQL.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode = WAL")
    # FULL: every commit is fsynced, so an acknowledged case survives even a power cut.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def run_write(conn: Any, dialect: str, now: int, fn: Callable[..., T], *args: Any) -> T:
    """fn(tx, *args) in one write transaction on `conn`: committed if it returns, rolled back if it raises."""
    conn.execute(BEGIN_WRITE[dialect])
    try:
        value = fn(Tx(conn, dialect, now), *args)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return value


class _Clock:
    """Unix seconds that never go backwards within this process (the feed is ordered by them)."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def now(self) -> int:
        with self._lock:
            self._last = max(self._last, int(time.time()))
            return self._last


class Store:
    """The database behind the app. Use `await read(fn)` / `await write(fn)` (or the _sync forms),
    where `fn(tx, *args)` does the queries; `write` functions are retried never, committed once."""

    def __init__(self, database: str, read_threads: int = 4) -> None:
        self.database = database
        self.dialect = dialect_of(database)
        self.clock = _Clock()
        self._local = threading.local()
        self._connections: list[Any] = []
        self._connections_lock = threading.Lock()
        self._open_schema()  # before any thread starts: a refused database leaves nothing running
        self._readers = ThreadPoolExecutor(read_threads, thread_name_prefix="hashbank-read")
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        self._closed = False

    # -- connections ---------------------------------------------------------------------------

    def _connect(self) -> Any:
        conn = connect(self.database)
        with self._connections_lock:
            self._connections.append(conn)
        return conn

    def _thread_connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def _open_schema(self) -> None:
        """Make the schema on an empty database; refuse (SchemaMismatch) one at another version."""
        conn = self._connect()
        try:
            run_write(conn, self.dialect, self.clock.now(), schema.open_schema)
        finally:
            self._forget(conn)

    def _forget(self, conn: Any) -> None:
        with self._connections_lock:
            if conn in self._connections:
                self._connections.remove(conn)
        try:
            conn.close()
        except Exception:  # closing a broken connection may itself fail
            pass

    # -- reads ---------------------------------------------------------------------------------

    def read_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(tx, *args) in one read-only transaction (one consistent snapshot)."""
        conn = self._thread_connection()
        try:
            conn.execute(BEGIN_READ[self.dialect])
            try:
                return fn(Tx(conn, self.dialect, self.clock.now()), *args)
            finally:
                conn.execute("COMMIT")
        except Exception:
            if self.dialect == "postgresql" and conn.closed:
                self._local.conn = None
                self._forget(conn)
            raise

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._readers, self.read_sync, fn, *args)

    # -- writes --------------------------------------------------------------------------------

    def submit(self, fn: Callable[..., T], *args: Any) -> Future:
        """Queue fn(tx, *args) for the writer; the future resolves after its batch committed."""
        if self._closed:
            raise RuntimeError("store is closed")
        future: Future = Future()
        self._queue.put((fn, args, future))
        if self._writer is None:
            with self._writer_lock:
                if self._writer is None:
                    self._writer = threading.Thread(target=self._write_loop, name="hashbank-write", daemon=True)
                    self._writer.start()
        return future

    def write_sync(self, fn: Callable[..., T], *args: Any) -> T:
        return self.submit(fn, *args).result()

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.wrap_future(self.submit(fn, *args))

    def _write_loop(self) -> None:
        conn = None
        while True:
            item = self._queue.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(more)
            try:
                conn = conn or self._connect()
                self._commit_batch(conn, batch)
            except Exception as exc:  # the batch as a whole failed (BEGIN/COMMIT): everyone hears it
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if conn is not None:
                    self._forget(conn)
                conn = None
        if conn is not None:
            self._forget(conn)

    def _commit_batch(self, conn: Any, batch: list) -> None:
        tx = Tx(conn, self.dialect, self.clock.now())
        savepoints = len(batch) > 1  # a lone write needs none: its failure rolls back everything
        results: list[tuple[Future, bool, Any]] = []
        conn.execute(BEGIN_WRITE[self.dialect])
        try:
            for fn, args, future in batch:
                if savepoints:
                    conn.execute("SAVEPOINT w")
                try:
                    value = fn(tx, *args)
                except Exception as exc:  # handed to that write's caller alone
                    if not savepoints:
                        conn.execute("ROLLBACK")
                        future.set_exception(exc)
                        return
                    conn.execute("ROLLBACK TO SAVEPOINT w")
                    conn.execute("RELEASE SAVEPOINT w")
                    results.append((future, False, exc))
                    continue
                if savepoints:
                    conn.execute("RELEASE SAVEPOINT w")
                results.append((future, True, value))
            conn.execute("COMMIT")
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except Exception:  # the original error is the one to report
                pass
            raise
        for future, ok, value in results:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    # -- life ----------------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()
        self._readers.shutdown(wait=True)
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except Exception:  # already broken
                pass
