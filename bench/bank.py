"""Hash bank benchmark: case submissions per second and p99 latency with concurrent clients on
loopback (SQLite and PostgreSQL), and one FetchHashes page of 800 with 1,000,000 hashes stored.

Prints figures and their ratios to the goals (>= 1000 cases/s with SQLite; <= 20 ms per page at
1M hashes) measured in this one run; never asserts a time. The server is the real one
(`python -m hashbank serve`, uvicorn, no access log) in its own processes; the load comes from
this process over raw HTTP/1.1 keep-alive connections, so the client costs little CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "py"), str(ROOT)]

from hashbank import Config, credentials  # noqa: E402
from hashbank.partners import add_partner, encode_token  # noqa: E402
from hashbank.store import Store  # noqa: E402
from site_build.system import free_port  # noqa: E402
from tests.bank.postgres import PostgresServer  # noqa: E402

GOAL_CASES_PER_SECOND = 1000
GOAL_PAGE_MS = 20.0
CONSENT = {"adult": True, "depicted": True, "intimate": True, "share_hashes": True}


class Server:
    def __init__(self, database: str, workers: int, folder: Path, *extra: str) -> None:
        self.port = free_port()
        self.log = open(folder / f"server-{self.port}.log", "wb")  # noqa: SIM115  closed in stop()
        env = {**os.environ, "PYTHONPATH": str(ROOT / "py")}
        cmd = [sys.executable, "-m", "hashbank", "--database", database, "serve", "--port", str(self.port)]
        cmd += ["--workers", str(workers), "--create-limit", "0", *extra]
        self.process = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=folder)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/api/openapi.json")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the bank did not start")

    def cpu_seconds(self) -> float:
        """User + system CPU of the server and its worker processes so far (Linux /proc)."""
        pids = [self.process.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                pids.append(int(stat.parent.name))
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


# -- submissions ---------------------------------------------------------------------------------


def case_requests(count: int, port: int) -> list[bytes]:
    """`count` distinct submissions shaped like the site's: PDQ with quality, MD5, SHA-256."""
    out = []
    for _ in range(count):
        body = json.dumps(
            {
                "pin": f"{random.randrange(10**6, 10**7)}",
                "hashes": [
                    {"type": "pdq", "value": secrets.token_hex(32), "quality": 100},
                    {"type": "md5", "value": secrets.token_hex(16)},
                    {"type": "sha256", "value": secrets.token_hex(32)},
                ],
                "consent": CONSENT,
            }
        ).encode()
        head = (
            f"POST /api/v1/cases HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Idempotency-Key: {uuid.uuid4()}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        out.append(head + body)
    return out


async def _client(port: int, requests: list[bytes], until: float, latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while requests and time.perf_counter() < until:
            request = requests.pop()
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if not head.startswith(b"HTTP/1.1 201"):
                errors.append(int(head[9:12]))
    finally:
        writer.close()


def submissions(database: str, workers: int, clients: int, seconds: float, folder: Path, *extra: str) -> dict:
    server = Server(database, workers, folder, *extra)
    try:
        requests = case_requests(int(seconds * 3000) + 2000, server.port)
        # warm-up (connections, first queries), not counted
        warm: list[float] = []
        asyncio.run(_run_clients(server.port, requests, clients, 1.0, warm, []))
        latencies: list[float] = []
        errors: list[int] = []
        cpu_before, start = server.cpu_seconds(), time.perf_counter()
        asyncio.run(_run_clients(server.port, requests, clients, seconds, latencies, errors))
        elapsed, cpu = time.perf_counter() - start, server.cpu_seconds() - cpu_before
    finally:
        server.stop()
    latencies.sort()
    return {
        "cases_per_second": (len(latencies) - len(errors)) / elapsed,
        # Robust to other load on the machine: what one case costs the server in CPU time.
        "server_cpu_ms_per_case": cpu / len(latencies) * 1000,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": len(errors),
    }


def _scrypt_ms(n: int = Config.scrypt_n) -> float:
    start = time.process_time()
    for _ in range(50):
        credentials.hash_pin("1234567", n, Config.scrypt_r, Config.scrypt_p)
    return (time.process_time() - start) / 50 * 1000


async def _run_clients(port, requests, clients, seconds, latencies, errors) -> None:
    until = time.perf_counter() + seconds
    await asyncio.gather(*(_client(port, requests, until, latencies, errors) for _ in range(clients)))


# -- a million hashes ----------------------------------------------------------------------------


def bulk_load(database: str, hashes: int, per_case: int = 4) -> None:
    """`hashes` hashes in cases of `per_case` (3 PDQ + 1 MD5), four per second over the past
    days, written straight into the tables (the API would take minutes to do it)."""
    now = int(time.time()) - hashes // per_case - 3600
    pin_hash = credentials.hash_pin("123456", 2**11, 8, 1)
    cases = hashes // per_case
    case_rows = [
        (c + 1, str(uuid.uuid4()), secrets.token_hex(32), pin_hash, "received", now + c, 0, 0) for c in range(cases)
    ]
    hash_rows = [
        (h + 1, "VideoMD5" if h % per_case == 3 else "ImagePDQ", secrets.token_hex(16 if h % per_case == 3 else 32))
        + (now + h // per_case,)
        for h in range(cases * per_case)
    ]
    link_rows = [(h // per_case + 1, h + 1, 100 if h % per_case != 3 else None) for h in range(cases * per_case)]
    store = Store(database, read_threads=1)  # creates the schema
    store.close()
    columns = {
        "cases": "(id, uuid, number_hash, pin_hash, status, status_at, failed_pins, locked_until)",
        "hashes": "(id, signal_type, value, last_modified)",
        "case_hashes": "(case_id, hash_id, quality)",
    }
    if database.startswith("postgresql"):
        import psycopg

        with psycopg.connect(database) as conn, conn.cursor() as cur:
            for table, rows in (("cases", case_rows), ("hashes", hash_rows), ("case_hashes", link_rows)):
                with cur.copy(f"COPY {table} {columns[table]} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            for table in ("cases", "hashes"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            cur.execute("ANALYZE")
    else:
        import sqlite3

        conn = sqlite3.connect(database, isolation_level=None)
        conn.execute("BEGIN")
        for table, rows in (("cases", case_rows), ("hashes", hash_rows), ("case_hashes", link_rows)):
            marks = ", ".join("?" * len(rows[0]))
            conn.executemany(f"INSERT INTO {table} {columns[table]} VALUES ({marks})", rows)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.close()


def fetch_pages(database: str, hashes: int, folder: Path, positions: int = 40) -> dict:
    bulk_started = time.perf_counter()
    bulk_load(database, hashes)
    load_seconds = time.perf_counter() - bulk_started
    store = Store(database, read_threads=1)
    keys = add_partner(store, "Bench")
    # Pages that start anywhere in the stream: a token at a random stored hash.
    picks = sorted(random.Random(4).sample(range(1, hashes - 1000), positions))
    tokens = [
        encode_token(
            *store.read_sync(lambda tx, i=i: tx.one("SELECT last_modified, id FROM hashes WHERE id = ?", (i,)))
        )
        for i in picks
    ]
    store.close()
    server = Server(database, 1, folder)
    headers = {"Ocp-Apim-Subscription-Key": keys["subscription_key"], "x-functions-key": keys["function_key"]}
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)

    def page(token: str) -> tuple[float, int]:
        start = time.perf_counter()
        conn.request("GET", f"/v1/FetchHashes?startTimestamp=10&pageSize=800&nextPageToken={token}", headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - start
        assert response.status == 200, body[:300]
        return elapsed, len(body)

    try:
        page(tokens[0])  # warm-up
        first = [page(t) for t in tokens]  # each page also activates its 200 received cases
        again = [page(t) for t in tokens]  # the same pages once their cases are active
    finally:
        conn.close()
        server.stop()

    def stats(samples: list[tuple[float, int]]) -> dict:
        ms = sorted(s[0] * 1000 for s in samples)
        return {"median_ms": statistics.median(ms), "p99_ms": ms[min(len(ms) - 1, int(len(ms) * 0.99))]}

    return {
        "load_seconds": load_seconds,
        "page_bytes": first[0][1],
        "first_fetch": stats(first),
        "steady": stats(again),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured load per backend (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default 2: one per core)")
    parser.add_argument("--hashes", type=int, default=1_000_000, help="hashes stored for FetchHashes (default 1M)")
    args, _ = parser.parse_known_args()  # build.py bench hands every script the same extra arguments
    folder = Path(tempfile.mkdtemp(prefix="hashbank-bench-"))
    results = {}
    try:
        with PostgresServer(durable=True) as pg:
            print(f"\n== hash bank: {args.clients} concurrent clients, {args.workers} worker processes, loopback")
            print(f"machine load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            costly = Config.scrypt_n * 4  # what a 4x dearer PIN hash costs in throughput
            runs = [("sqlite", Config.scrypt_n), ("postgresql", Config.scrypt_n), ("sqlite", costly)]
            for backend, cost in runs:
                db = str(folder / f"submit-{cost}.sqlite3") if backend == "sqlite" else pg.new_database()
                r = submissions(db, args.workers, args.clients, args.seconds, folder, "--scrypt-n", str(cost))
                results[f"submit_{backend}_scrypt_{cost}"] = r
                goal = f"  ({r['cases_per_second'] / GOAL_CASES_PER_SECOND:.2f}x goal >= 1000/s)"
                print(
                    f"case submissions, {backend:10s} scrypt N=2^{cost.bit_length() - 1}: "
                    f"{r['cases_per_second']:5.0f} cases/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms,"
                    f" {r['errors']} non-201" + (goal if backend == "sqlite" else "")
                )
                cpu = r["server_cpu_ms_per_case"]
                print(
                    f"  server CPU {cpu:.2f} ms per case (scrypt alone {_scrypt_ms(cost):.2f} ms):"
                    f" {1000 / cpu:.0f} cases/s per fully available core"
                )
            print(f"\n== FetchHashes: pages of 800 with {args.hashes:,} hashes stored (random start positions)")
            for backend in ("sqlite", "postgresql"):
                db = str(folder / "feed.sqlite3") if backend == "sqlite" else pg.new_database()
                r = fetch_pages(db, args.hashes, folder)
                results[f"fetch_{backend}"] = r
                for label in ("first_fetch", "steady"):
                    s = r[label]
                    what = "first delivery (activates cases)" if label == "first_fetch" else "again"
                    print(
                        f"FetchHashes, {backend:10s} {what:33s}: median {s['median_ms']:5.1f} ms,"
                        f" p99 {s['p99_ms']:5.1f} ms  ({GOAL_PAGE_MS / s['median_ms']:.2f}x goal <= 20 ms)"
                    )
                kib, took = r["page_bytes"] / 1024, r["load_seconds"]
                print(f"  ({kib:.0f} KiB per page; loading {args.hashes:,} hashes took {took:.0f} s)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("\n" + json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
