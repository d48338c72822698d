"""/healthz and /metrics: the counts move with each event, no secret ever becomes a label, a hung or missing
database gives 503, and `serve --workers 2` is counted as one server."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from hashbank import Config
from hashbank.metrics import EVENTS, METHODS

from .conftest import ROOT, LiveBank, ServerProcess, case_body, hex_of, partner_headers

TOKEN = "scrape-" + "k7" * 16
BEARER = {"Authorization": f"Bearer {TOKEN}"}
ROUTES = {route for _, route in EVENTS} | {"/healthz", "/metrics", "/api/openapi.json"}
MOUNTS = {"/api/{path}", "/v1/{path}", "/{path}", "unmatched"}


def scrape(url: str, **headers: str) -> requests.Response:
    response = requests.get(url + "/metrics", headers={**BEARER, **headers}, timeout=10)
    assert response.status_code == 200, response.text
    return response


def samples(url: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of one scrape: (name, its labels) -> value."""
    families = text_string_to_metric_families(scrape(url).text)
    return {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def metered(make_bank) -> LiveBank:
    return make_bank(metrics_token=TOKEN)


# -- /metrics ------------------------------------------------------------------------------------------


def test_metrics_are_off_without_a_token_and_need_it_when_set(bank, metered):
    off = bank.http.get(bank.url + "/metrics", headers=BEARER)
    assert off.status_code == 404 and off.json()["error"]["code"] == "not_found"
    for headers in ({}, {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": TOKEN}):
        refused = metered.http.get(metered.url + "/metrics", headers=headers)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert "hashbank_" not in refused.text
    text = scrape(metered.url)
    assert text.headers["content-type"].startswith("text/plain") and text.headers["cache-control"] == "no-store"
    assert "# TYPE hashbank_request_duration_seconds histogram" in text.text
    openmetrics = scrape(metered.url, Accept="application/openmetrics-text; version=1.0.0")
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")


def test_each_named_event_moves_its_own_counter(metered):
    keys = metered.add_partner()
    before = samples(metered.url)
    idempotency = {"Idempotency-Key": "metrics-test-key-0001"}
    number = metered.create(headers=idempotency).json()["case_number"]
    replay = metered.create(headers=idempotency)
    assert replay.headers["idempotent-replayed"] == "true"  # the same case again: not a new one
    assert metered.status(number).status_code == 200
    assert metered.withdraw(number).status_code == 200
    assert metered.fetch(keys).status_code == 200
    feedback = {"hashFeedbacks": [{"hashValue": "a" * 64, "feedbackValue": "Blocked"}]}
    assert metered.post("/v1/SubmitFeedback", feedback, headers=partner_headers(keys)).status_code == 200
    after = samples(metered.url)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("hashbank_new_cases_total") == 1
    assert moved("hashbank_status_checks_total") == 1
    assert moved("hashbank_withdrawals_total") == 1
    assert moved("hashbank_partner_fetches_total") == 1
    assert moved("hashbank_partner_feedback_total") == 1
    assert moved("hashbank_requests_total", route="/api/v1/cases", method="POST", status="201") == 2
    assert moved("hashbank_requests_total", route="/v1/FetchHashes", method="GET", status="200") == 1
    # The latency of every request, in buckets up to SQLite's 30 s lock wait.
    created = {"route": "/api/v1/cases", "method": "POST"}
    assert moved("hashbank_request_duration_seconds_count", **created) == 2
    assert moved("hashbank_request_duration_seconds_bucket", **created, le="+Inf") == 2
    assert moved("hashbank_request_duration_seconds_bucket", **created, le="30.0") == 2
    assert 0 < moved("hashbank_request_duration_seconds_sum", **created) < 30
    assert not any(name == "hashbank_errors_total" for name, _ in after)  # none of this was refused


def test_error_answers_are_counted_by_route_and_code(metered):
    number = metered.new_case()
    wrong_pin = metered.status(number, pin="000000")
    unknown = metered.status("0000-0000-0000-0000-0000")
    no_keys = metered.http.get(metered.url + "/v1/FetchHashes")
    bad_json = metered.http.post(metered.url + "/api/v1/cases", data=b"{", headers={"Content-Type": "application/json"})
    nowhere = metered.http.get(metered.url + "/nothing")
    answers = [r.status_code for r in (wrong_pin, unknown, no_keys, bad_json, nowhere)]
    assert answers == [403, 404, 401, 400, 404]
    after = samples(metered.url)
    case_route = "/api/v1/cases/{case}/status"
    assert value(after, "hashbank_errors_total", route=case_route, code="wrong_pin") == 1
    assert value(after, "hashbank_errors_total", route=case_route, code="not_found") == 1
    assert value(after, "hashbank_errors_total", route="/v1/FetchHashes", code="unauthorized") == 1
    assert value(after, "hashbank_errors_total", route="/api/v1/cases", code=bad_json.json()["error"]["code"]) == 1
    assert value(after, "hashbank_errors_total", route="unmatched", code="not_found") == 1
    assert value(after, "hashbank_requests_total", route=case_route, method="POST", status="403") == 1
    assert value(after, "hashbank_status_checks_total") == 0  # a refused check is an error, not a check


def test_a_crash_is_counted_as_internal_error(make_bank, monkeypatch):
    async def broken(request):
        raise RuntimeError("a bug")

    monkeypatch.setattr("hashbank.app.case_status", broken)
    bank = make_bank(metrics_token=TOKEN)
    crashed = bank.status(bank.new_case())
    assert crashed.status_code == 500 and crashed.json()["error"]["code"] == "internal_error"
    after = samples(bank.url)
    route = "/api/v1/cases/{case}/status"
    assert value(after, "hashbank_errors_total", route=route, code="internal_error") == 1
    assert value(after, "hashbank_requests_total", route=route, method="POST", status="500") == 1


def test_no_case_number_pin_hash_address_or_key_reaches_the_exposition(metered):
    pin = "975318642"
    hashes = [{"type": "pdq", "value": hex_of(0xC0FFEE1234567 + i, 64), "quality": 90} for i in range(3)]
    hashes.append({"type": "md5", "value": hex_of(0xFEEDFACE7654321, 32)})
    keys = metered.add_partner("Quokka Platform 7731")
    client = {"X-Forwarded-For": "198.51.100.77", "User-Agent": "DistinctiveBrowser/9.9"}
    idempotency = "idem-secret-5b2f9c4e7a"
    numbers = [metered.new_case(hashes[:2], pin=pin)]
    created = metered.create(case_body(hashes[2:], pin=pin), headers={**client, "Idempotency-Key": idempotency})
    numbers.append(created.json()["case_number"])
    for number in numbers:
        compact = number.replace("-", "").lower()  # another spelling the bank accepts
        metered.status(compact, pin=pin)
        metered.status(number, pin="864213579")  # wrong PIN
        metered.post(f"/api/v1/cases/{number}/nothing", {"pin": pin}, headers=client)
        metered.http.get(f"{metered.url}/{number}?pin={pin}", headers=client)
        metered.fetch(keys, nextPageToken=number)
    metered.withdraw(numbers[0], pin=pin)
    metered.fetch(keys)
    metered.fetch({"subscription_key": keys["function_key"], "function_key": keys["subscription_key"]})
    feedback = {"hashFeedbacks": [{"hashValue": h["value"], "feedbackValue": "Blocked"} for h in hashes]}
    metered.post("/v1/SubmitFeedback", feedback, headers={**partner_headers(keys), **client})
    metered.http.get(metered.url + "/metrics", headers={"Authorization": f"Bearer {keys['subscription_key']}"})

    secrets = [pin, "864213579", "198.51.100.77", "127.0.0.1", "DistinctiveBrowser", idempotency, "Quokka"]
    secrets += [keys["subscription_key"], keys["function_key"]]
    secrets += [n for number in numbers for n in (number, number.replace("-", ""), number[:9])]
    secrets += [h["value"][:16] for h in hashes]
    for accept in ("text/plain", "application/openmetrics-text; version=1.0.0"):
        text = scrape(metered.url, Accept=accept).text.lower()
        assert "hashbank_new_cases_total 2.0" in text  # the traffic was counted ...
        for secret in secrets:
            assert secret.lower() not in text, secret  # ... and nothing of it but counts
    # Every label value comes from the fixed sets, whatever the clients sent.
    labels = {(k, v) for _, pairs in samples(metered.url) for k, v in pairs}
    assert {v for k, v in labels if k == "route"} <= ROUTES | MOUNTS
    assert {v for k, v in labels if k == "method"} <= METHODS | {"other"}
    assert all(re.fullmatch(r"[1-5][0-9][0-9]", v) for k, v in labels if k == "status")
    assert all(re.fullmatch(r"[a-z_]+", v) for k, v in labels if k == "code")
    assert {k for k, _ in labels} <= {"route", "method", "status", "code", "le"}


# -- /healthz ------------------------------------------------------------------------------------------


def test_healthz_answers_200_while_the_database_answers(bank):
    response = bank.http.get(bank.url + "/healthz")
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert response.headers["cache-control"] == "no-store"


@contextlib.contextmanager
def database_held(database: str):
    """Another client holding the lock the bank needs, as a stray `sqlite3` shell, a backup or a schema
    migration does: SQLite's write lock (the bank's writer waits for it), PostgreSQL's ACCESS EXCLUSIVE
    lock on cases (every read of a case waits for it)."""
    if database.startswith("postgresql"):
        with psycopg.connect(database) as conn:
            conn.execute("LOCK TABLE cases IN ACCESS EXCLUSIVE MODE")
            yield
            conn.rollback()
    else:
        conn = sqlite3.connect(database, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()


def healthz(bank: LiveBank) -> tuple[int, float]:
    started = time.monotonic()
    status = requests.get(bank.url + "/healthz", timeout=30).status_code
    return status, time.monotonic() - started


def test_healthz_answers_503_while_the_database_hangs_and_200_once_it_answers(bank, database):
    assert healthz(bank)[0] == 200
    with database_held(database):
        status, seconds = healthz(bank)
        assert status == 503 and 1.5 < seconds < 10  # the probe's 2 s timeout, not SQLite's 30 s lock wait
        # The stuck probe is still in flight: the next check says so at once rather than queue another.
        status, seconds = healthz(bank)
        assert status == 503 and seconds < 1
    deadline = time.monotonic() + 15
    while healthz(bank)[0] != 200:
        assert time.monotonic() < deadline, "healthz did not recover once the database answered"
        time.sleep(0.2)


def test_healthz_answers_503_when_the_postgresql_database_is_gone(postgres):
    bank = LiveBank(Config(database=postgres.new_database(), create_limit=0)).start()
    try:
        bank.new_case()
        assert healthz(bank)[0] == 200
        postgres.drop_database(bank.config.database)  # its connections are ended, reconnecting fails
        status, seconds = healthz(bank)
        assert status == 503 and seconds < 10
    finally:
        bank.stop()


# -- hashbank serve ------------------------------------------------------------------------------------


def counted_in(counts: Path, metric: str) -> float:
    """What one worker process counted, read from its own file in the multiprocess folder."""
    families = [m for m in MultiProcessCollector.merge([str(counts)]) if m.name == metric]
    return sum(s.value for m in families for s in m.samples if s.name == metric + "_total")


def every_worker_answered(folder: Path, workers: int) -> bool:
    files = list(folder.glob("counter_*.db"))
    return len(files) == workers and all(counted_in(f, "hashbank_requests") for f in files)


def test_serve_with_two_workers_counts_every_worker_in_every_scrape(database, tmp_path, monkeypatch):
    monkeypatch.setenv("HASHBANK_METRICS_TOKEN", TOKEN)
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where serve makes its private multiprocess folder
    server = ServerProcess(database, tmp_path / "server.log", "--workers", "2", "--create-limit", "0")
    try:
        (folder,) = tmp_path.glob("hashbank-metrics-*")
        # serve answers once one worker does; the other may still be starting. Health checks on new
        # connections until each worker's file has counted one.
        deadline = time.monotonic() + 30
        while not every_worker_answered(folder, 2):
            assert time.monotonic() < deadline, "the second worker did not start"
            requests.get(server.url + "/healthz", timeout=10)

        def submit(i: int) -> int:  # a new connection each: the kernel hands them to either worker
            body = case_body([{"type": "pdq", "value": hex_of(i + 1, 64)}])
            return requests.post(server.url + "/api/v1/cases", json=body, timeout=30).status_code

        with ThreadPoolExecutor(6) as pool:
            assert list(pool.map(submit, range(60))) == [201] * 60
        per_worker = [counted_in(counts, "hashbank_new_cases") for counts in folder.glob("counter_*.db")]
        assert len(per_worker) == 2 and sum(per_worker) == 60
        assert all(per_worker), per_worker  # both workers took cases ...
        for _ in range(8):  # ... and whichever answers the scrape counts them all
            assert value(samples(server.url), "hashbank_new_cases_total") == 60
    finally:
        server.stop()
    assert not list(tmp_path.glob("hashbank-metrics-*")), "serve leaves no metrics folder behind"
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def test_serve_refuses_a_short_metrics_token(tmp_path):
    env = {"PYTHONPATH": str(ROOT / "py"), "PATH": "/usr/bin:/bin", "HASHBANK_METRICS_TOKEN": "short"}
    done = subprocess.run(
        [sys.executable, "-m", "hashbank", "--database", str(tmp_path / "bank.sqlite3"), "serve"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2 and '"usage"' in done.stderr and "HASHBANK_METRICS_TOKEN" in done.stderr
