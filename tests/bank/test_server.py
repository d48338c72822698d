"""`python -m hashbank` as a real process: kill -9 under load, schemathesis, the CLI, its logs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from .conftest import ROOT, ServerProcess, case_body, hex_of, partner_headers

CLIENTS = 6
LOAD_SECONDS = 30  # an upper bound: the server is killed long before


def hashbank(database: str, *args: str) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(ROOT / "py"), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "hashbank", "--database", database, *args], capture_output=True, text=True, env=env
    )


def test_every_acknowledged_case_survives_kill_9(database, tmp_path):
    server = ServerProcess(database, tmp_path / "server.log", "--create-limit", "0")
    acknowledged: list[tuple[str, str, list[str]]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(worker: int) -> int:
        session, sent = requests.Session(), 0
        deadline = time.monotonic() + LOAD_SECONDS
        while not stop.is_set() and time.monotonic() < deadline:
            sent += 1
            values = [hex_of(worker * 10**6 + sent * 10 + k, 64) for k in range(3)]
            pin = f"{100000 + sent}"
            body = case_body([{"type": "pdq", "value": v} for v in values], pin=pin)
            try:
                response = session.post(server.url + "/api/v1/cases", json=body, timeout=10)
            except requests.RequestException:
                continue  # the server died mid-request: that case was never acknowledged
            if response.status_code == 201:
                with lock:
                    acknowledged.append((response.json()["case_number"], pin, values))
        return sent

    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(client, w) for w in range(CLIENTS)]
        while len(acknowledged) < 150 and all(not f.done() for f in futures):
            time.sleep(0.01)
        server.stop(kill=True)  # SIGKILL mid-load: no shutdown, no flush
        time.sleep(0.3)
        stop.set()
        sent = sum(f.result() for f in futures)
    assert len(acknowledged) >= 150, (tmp_path / "server.log").read_text()
    assert sent > len(acknowledged)  # some requests were in flight when it died

    restarted = ServerProcess(database, tmp_path / "server.log")
    try:
        session = requests.Session()
        for number, pin, values in acknowledged:
            response = session.post(f"{restarted.url}/api/v1/cases/{number}/status", json={"pin": pin})
            assert response.status_code == 200, (number, response.text)
            assert sorted(h["value"] for h in response.json()["hashes"]) == sorted(values)
    finally:
        restarted.stop()


def test_schemathesis_finds_no_server_error(database, tmp_path, monkeypatch):
    add = hashbank(database, "partner", "add", "Fuzzer")
    keys = json.loads(add.stdout)
    token = "fuzzer-metrics-token-0123456789"
    monkeypatch.setenv("HASHBANK_METRICS_TOKEN", token)  # /metrics on, so the fuzzer reaches past its 404
    server = ServerProcess(database, tmp_path / "server.log", "--create-limit", "0")
    try:
        # One real case, named in every status/withdraw call, so generated PINs reach the PIN check,
        # the attempt counter and the lockout instead of stopping at 404.
        created = requests.post(server.url + "/api/v1/cases", json=case_body(), timeout=10)
        (tmp_path / "schemathesis.toml").write_text(f'[parameters]\n"path.case" = "{created.json()["case_number"]}"\n')
        headers = {**partner_headers(keys), "Authorization": f"Bearer {token}"}
        run = subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "st") if (ROOT / ".venv" / "bin" / "st").exists() else "st",
                "run",
                server.url + "/api/openapi.json",
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--max-examples",
                "40",
                "--phases",
                "examples,coverage,fuzzing",
                "--seed",
                "1",
                "--workers",
                "2",
                "--generation-database",
                "none",
                "--no-color",
                *[arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")],
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=300,
        )
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
        assert "Missing test data" not in run.stdout  # the PIN-guarded calls were reached
    finally:
        server.stop()
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log, log[-4000:]


def test_partner_cli(database, tmp_path):
    added = hashbank(database, "partner", "add", "Platform One")
    assert added.returncode == 0, added.stderr
    keys = json.loads(added.stdout)
    assert set(keys) == {"name", "subscription_key", "function_key"} and keys["name"] == "Platform One"
    assert len(keys["subscription_key"]) >= 40 and keys["subscription_key"] != keys["function_key"]
    again = hashbank(database, "partner", "add", "Platform One")
    assert again.returncode == 1 and json.loads(again.stderr)["error"]["code"] == "usage"
    assert hashbank(database, "partner", "add", "-bad name!").returncode != 0

    listed = [json.loads(line) for line in hashbank(database, "partner", "list").stdout.splitlines()]
    assert [(p["name"], p["revoked"]) for p in listed] == [("Platform One", None)]
    assert "key" not in json.dumps(listed)  # keys are printed once, at creation, never again

    server = ServerProcess(database, tmp_path / "server.log")
    try:
        fetch = server.url + "/v1/FetchHashes"
        assert requests.get(fetch, headers=partner_headers(keys), timeout=10).status_code == 200
        # Rotation while the bank serves: the running server refuses the old keys and takes the new ones at once.
        rotated = hashbank(database, "partner", "rotate", "Platform One")
        assert rotated.returncode == 0, rotated.stderr
        new_keys = json.loads(rotated.stdout)
        assert set(new_keys) == set(keys) and new_keys["name"] == "Platform One"
        assert requests.get(fetch, headers=partner_headers(keys), timeout=10).status_code == 401
        assert requests.get(fetch, headers=partner_headers(new_keys), timeout=10).status_code == 200
        assert hashbank(database, "partner", "revoke", "Platform One").returncode == 0
        assert requests.get(fetch, headers=partner_headers(new_keys), timeout=10).status_code == 403
    finally:
        server.stop()
    assert hashbank(database, "partner", "revoke", "Platform One").returncode == 1
    refused = hashbank(database, "partner", "rotate", "Platform One")
    assert refused.returncode == 1 and json.loads(refused.stderr)["error"]["code"] == "usage"
    assert json.loads(hashbank(database, "partner", "list").stdout)["revoked"] is not None


def test_no_address_or_user_agent_is_logged_or_stored(database, tmp_path):
    server = ServerProcess(database, tmp_path / "server.log", "--create-limit", "1")
    agent = {"User-Agent": "DistinctiveBrowser/9.9", "X-Forwarded-For": "198.51.100.77"}
    try:
        first = requests.post(server.url + "/api/v1/cases", json=case_body(), headers=agent, timeout=10)
        assert first.status_code == 201
        limited = requests.post(server.url + "/api/v1/cases", json=case_body(), headers=agent, timeout=10)
        assert limited.status_code == 429  # the limiter did see the client ...
        requests.post(server.url + "/api/v1/cases", data=b"{", headers=agent, timeout=10)
        requests.get(server.url + "/nothing", headers=agent, timeout=10)
    finally:
        server.stop()
    log = (tmp_path / "server.log").read_text()
    assert "Uvicorn running" in log  # ... the log is the server's, and it is there
    for trace in ("198.51.100.77", "DistinctiveBrowser", "POST /api", "GET /nothing"):
        assert trace not in log, log
    assert not re.search(r"127\.0\.0\.1:\d+ - ", log), log  # uvicorn's access-log line
    if not database.startswith("postgresql"):
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("bank.sqlite3*"))
        assert b"DistinctiveBrowser" not in raw and b"198.51.100.77" not in raw
