"""The victim API as the site's shim uses it: create, status, withdraw; strictness and limits."""

from __future__ import annotations

import hashlib
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from hashbank.credentials import ALPHABET
from hashbank.validation import CASE_BODY_LIMIT, MAX_VPDQ_FRAMES, VICTIM_BODY_LIMIT

from .conftest import CONSENT, case_body, hex_of

CASE_NUMBER = re.compile(rf"[{ALPHABET}]{{4}}(-[{ALPHABET}]{{4}}){{4}}")


def test_a_case_gets_a_human_friendly_unguessable_number(bank):
    numbers = {bank.new_case() for _ in range(5)}
    assert len(numbers) == 5
    for number in numbers:
        assert CASE_NUMBER.fullmatch(number), number
        assert not set(number) & set("ILOU")  # no look-alikes
    # 20 characters of a 32-symbol alphabet: 100 random bits, over the 96 the issue asks for
    assert len(number.replace("-", "")) * 5 >= 96


def test_status_shows_every_hash_normalised_and_pending(bank):
    hashes = [
        {"type": "pdq", "value": "AB" * 32, "quality": 77},
        {"type": "md5", "value": " " + "C" * 32 + " "},
        {"type": "sha256", "value": "d" * 64},
        {"type": "pdq", "value": "ab" * 32, "quality": 77},  # the same hash again: kept once
    ]
    number = bank.new_case(hashes)
    bank.add_partner("Platform A")
    body = bank.status(number).json()
    assert body["case_number"] == number
    assert body["status"] == "received"
    assert [(h["type"], h["value"], h.get("quality")) for h in body["hashes"]] == [
        ("pdq", "ab" * 32, 77),
        ("md5", "c" * 32, None),
        ("sha256", "d" * 64, None),
    ]
    for item in body["hashes"]:
        assert item["feedback"] == [{"partner": "Platform A", "result": "pending", "at": None}]


@pytest.mark.parametrize(
    "typed",
    [
        lambda n: n.lower(),
        lambda n: n.replace("-", ""),
        lambda n: " ".join(n.split("-")),
        lambda n: n.replace("0", "O").replace("1", "l"),
    ],
)
def test_a_case_number_is_read_the_way_people_type_it(bank, typed):
    number = bank.new_case()
    response = bank.status(typed(number))
    assert response.status_code == 200, response.text
    assert response.json()["case_number"] == number


def test_unknown_case_is_404_in_the_error_shape(bank):
    for number in ["0000-0000-0000-0000-0000", "short", "UUUU-UUUU-UUUU-UUUU-UUUU"]:
        response = bank.status(number)
        assert response.status_code == 404
        assert response.json() == {"error": {"code": "not_found", "message": "no case has this number"}}


def test_withdrawal(bank):
    number = bank.new_case()
    response = bank.withdraw(number)
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert bank.withdraw(number).json()["status"] == "withdrawn"  # withdrawing twice is harmless
    assert bank.status(number).json()["status"] == "withdrawn"


# -- strict validation ---------------------------------------------------------------------------

PDQ = {"type": "pdq", "value": "a" * 64}
INVALID = {
    "unknown top-level field": (case_body(filename="me.jpg"), 400, "unknown_field"),
    "unknown hash field": (case_body([{**PDQ, "size": 1234}]), 400, "unknown_field"),
    "unknown consent field": (case_body(consent={**CONSENT, "extra": True}), 400, "unknown_field"),
    "missing consent": ({"pin": "246810", "hashes": [PDQ]}, 400, "missing_field"),
    "a consent false": (case_body(consent={**CONSENT, "intimate": False}), 422, "consent_required"),
    "a consent truthy but not true": (case_body(consent={**CONSENT, "adult": 1}), 422, "consent_required"),
    "pdq 63 hex": (case_body([{"type": "pdq", "value": "a" * 63}]), 400, "invalid_hash"),
    "md5 64 hex": (case_body([{"type": "md5", "value": "a" * 64}]), 400, "invalid_hash"),
    "sha256 not hex": (case_body([{"type": "sha256", "value": "g" * 64}]), 400, "invalid_hash"),
    "value not a string": (case_body([{"type": "pdq", "value": 12}]), 400, "invalid_hash"),
    "unsupported type": (case_body([{"type": "phash", "value": "a" * 16}]), 400, "unsupported_type"),
    "quality 101": (case_body([{**PDQ, "quality": 101}]), 400, "invalid_quality"),
    "quality true": (case_body([{**PDQ, "quality": True}]), 400, "invalid_quality"),
    "quality on md5": (case_body([{"type": "md5", "value": "a" * 32, "quality": 50}]), 400, "unknown_field"),
    "kind not localhash's": (case_body([{**PDQ, "kind": "fit_2x3_bars"}]), 400, "invalid_kind"),
    "kind not a string": (case_body([{**PDQ, "kind": {}}]), 400, "invalid_kind"),
    "kind on sha256": (case_body([{"type": "sha256", "value": "a" * 64, "kind": "original"}]), 400, "unknown_field"),
    "no hashes": (case_body([]), 400, "no_hashes"),
    "201 hashes": (case_body([{"type": "md5", "value": hex_of(i, 32)} for i in range(201)]), 400, "too_many_hashes"),
    "pin 5 digits": (case_body(pin="12345"), 400, "invalid_pin"),
    "pin a number": ({**case_body(), "pin": 246810}, 400, "invalid_pin"),
    "pin letters": (case_body(pin="abcdef"), 400, "invalid_pin"),
    "body a list": ([case_body()], 400, "invalid_type"),
}


@pytest.mark.parametrize("name", INVALID)
def test_invalid_submissions_are_refused_and_store_nothing(bank, name):
    body, status, code = INVALID[name]
    response = bank.create(body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert set(response.json()) == {"error"}
    assert bank.rows("cases") == bank.rows("hashes") == 0


def test_two_hundred_hashes_are_accepted(bank):
    number = bank.new_case([{"type": "md5", "value": hex_of(i, 32)} for i in range(200)])
    assert len(bank.status(number).json()["hashes"]) == 200


@pytest.mark.parametrize(
    ("raw", "headers", "status", "code"),
    [
        (b'{"pin": "246810", "pin": "111111"}', {}, 400, "bad_json"),  # a key twice
        (b'{"pin": NaN}', {}, 400, "bad_json"),
        (b"{not json", {}, 400, "bad_json"),
        (b"\xff\xfe", {}, 400, "bad_json"),
        (b"{}", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        (b"[" * 100_000, {}, 400, "bad_json"),  # nested past what the parser follows
        (b" " * (CASE_BODY_LIMIT + 1), {}, 413, "too_large"),
    ],
)
def test_malformed_bodies(bank, raw, headers, status, code):
    response = bank.http.post(
        bank.url + "/api/v1/cases", data=raw, headers={"Content-Type": "application/json", **headers}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


def test_bodies_over_the_limits_are_refused_even_without_content_length(bank):
    """8 MiB for a new case (a video's vPDQ is about 76 bytes a second), 64 KiB for a PIN; a body sent in
    chunks, with no length, is cut off as soon as it passes the limit."""

    def chunks(limit: int):
        yield b'{"pin": "246810", "hashes": ['
        for _ in range(limit // 45 + 1):
            yield b'{"type": "md5", "value": "' + b"a" * 32 + b'"},'
        yield b"]}"

    number = bank.new_case()
    for path, limit in (("/api/v1/cases", CASE_BODY_LIMIT), (f"/api/v1/cases/{number}/status", VICTIM_BODY_LIMIT)):
        response = bank.http.post(bank.url + path, data=chunks(limit), headers={"Content-Type": "application/json"})
        assert response.status_code == 413, path
        assert response.json()["error"]["code"] == "too_large"


def test_status_body_is_strict_too(bank):
    number = bank.new_case()
    assert bank.post(f"/api/v1/cases/{number}/status", {"pin": "246810", "x": 1}).status_code == 400
    assert bank.post(f"/api/v1/cases/{number}/status", {}).json()["error"]["code"] == "missing_field"


def test_wrong_method_and_path_answer_in_the_error_shape(bank):
    response = bank.http.get(bank.url + "/api/v1/cases")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"
    assert "POST" in response.headers["allow"]
    assert bank.http.get(bank.url + "/api/v2/nothing").json()["error"]["code"] == "not_found"


# -- idempotency ----------------------------------------------------------------------------------


def test_a_retried_submission_never_makes_a_second_case(bank):
    key = {"Idempotency-Key": "3f1c8f5e-7d2a-4c47-9a35-0d5b1f7e2c11"}
    first = bank.create(case_body(), headers=key)
    again = bank.create(case_body(), headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = bank.create(case_body(), headers={"Idempotency-Key": "another-key-0123456789"})
    assert other.json() != first.json()


def test_the_same_key_with_another_body_is_a_conflict(bank):
    key = {"Idempotency-Key": "k" * 32}
    assert bank.create(case_body(pin="111111"), headers=key).status_code == 201
    response = bank.create(case_body(pin="222222"), headers=key)
    assert response.status_code == 409 and response.json()["error"]["code"] == "idempotency_conflict"


def test_concurrent_retries_make_one_case(bank):
    key = {"Idempotency-Key": "parallel-retry-0123456789"}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: bank.create(case_body(), headers=key), range(16)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["case_number"] for a in answers}) == 1


def test_a_short_idempotency_key_is_refused(bank):
    response = bank.create(case_body(), headers={"Idempotency-Key": "1"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_idempotency_key"


# -- limits ---------------------------------------------------------------------------------------


def test_wrong_pins_lock_the_case_then_allow_one_try_per_window(make_bank):
    bank = make_bank(pin_attempts=3, pin_lockout_seconds=2)
    number = bank.new_case(pin="246810")
    assert bank.status(number, "000000").json()["error"]["message"].startswith("wrong PIN; 2 more")
    assert bank.status(number, "000000").status_code == 403
    assert bank.status(number, "000000").status_code == 403  # the third: now locked
    locked = bank.status(number, "246810")  # even the right PIN waits
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "locked"
    assert 1 <= int(locked.headers["Retry-After"]) <= 2
    assert bank.withdraw(number, "246810").status_code == 429
    time.sleep(2.1)
    assert bank.status(number, "000000").status_code == 403  # one try after the window ...
    assert bank.status(number, "246810").status_code == 429  # ... and locked again
    time.sleep(2.1)
    assert bank.status(number, "246810").status_code == 200  # the right PIN resets the count
    assert bank.status(number, "000000").json()["error"]["message"].startswith("wrong PIN; 2 more")


def test_parallel_guesses_cannot_outrun_the_pin_limit(make_bank):
    bank = make_bank(pin_attempts=10)
    number = bank.new_case(pin="246810")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: bank.status(number, f"{100000 + i}"), range(40)))
    codes = [a.status_code for a in answers]
    assert codes.count(403) == 10 and codes.count(429) == 30


def test_case_creation_is_rate_limited_per_client(make_bank):
    bank = make_bank(create_limit=3)
    # uvicorn takes the client address from X-Forwarded-For when the proxy is 127.0.0.1.
    alice, bob = {"X-Forwarded-For": "198.51.100.7"}, {"X-Forwarded-For": "203.0.113.9"}
    assert [bank.create(headers=alice).status_code for _ in range(3)] == [201] * 3
    limited = bank.create(headers=alice)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    assert bank.create(headers=bob).status_code == 201


def test_the_limiter_keeps_no_address():
    from hashbank.ratelimit import ClientLimiter

    limiter = ClientLimiter(limit=1, window=60)
    assert limiter.allow("198.51.100.7", now=0) == 0
    assert limiter.allow("198.51.100.7", now=1) > 0
    assert limiter.allow("198.51.100.7", now=61) == 0  # a new window
    stored = repr(limiter._windows).encode()
    assert b"198.51.100.7" not in stored and b"198" not in b"".join(limiter._windows)
    other = ClientLimiter(limit=1, window=60)
    assert set(other._windows) == set() and other._client_key("x") != limiter._client_key("x")  # per-process key


# -- CORS and the static site ------------------------------------------------------------------


def test_cors_only_for_configured_mirrors(make_bank):
    bank = make_bank(cors_origins=("https://mirror.example",))
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    ok = bank.http.options(bank.url + "/api/v1/cases", headers={"Origin": "https://mirror.example", **preflight})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://mirror.example"
    other = bank.http.options(bank.url + "/api/v1/cases", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers
    created = bank.create(headers={"Origin": "https://mirror.example"})
    assert created.status_code == 201 and created.headers["access-control-allow-origin"] == "https://mirror.example"


def test_static_site_served_beside_the_api(make_bank, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>localhash</title>")
    (site / "pyodide.asm.wasm").write_bytes(b"\0asm\1\0\0\0")
    (site / "worker.mjs").write_text("export {};")
    csp = {"Content-Security-Policy": "default-src 'self'", "X-Frame-Options": "DENY"}
    bank = make_bank(static_dir=site, static_headers=csp)
    page = bank.http.get(bank.url + "/")
    assert page.status_code == 200 and "localhash" in page.text
    assert page.headers["content-security-policy"] == "default-src 'self'"
    assert page.headers["x-frame-options"] == "DENY"
    wasm = bank.http.get(bank.url + "/pyodide.asm.wasm")
    assert wasm.headers["content-type"] == "application/wasm" and wasm.content == b"\0asm\1\0\0\0"
    assert bank.http.get(bank.url + "/worker.mjs").headers["content-type"].startswith("text/javascript")
    assert bank.new_case()  # the API still answers on the same origin
    assert bank.http.get(bank.url + "/api/openapi.json").headers["cache-control"] == "no-store"


def test_create_app_takes_static_dir_as_an_argument(tmp_path, database):
    from hashbank import Config, create_app

    app = create_app(Config(database=database), static_dir=tmp_path, static_headers={"X-Test": "1"})
    assert app.routes[-1].path == ""  # mounted at /


def test_concurrent_submissions_are_all_stored(bank):
    # Many writes in flight share group commits; every acknowledged one is there, with its hash.
    with ThreadPoolExecutor(8) as pool:
        numbers = list(pool.map(lambda i: (i, bank.new_case([{"type": "md5", "value": hex_of(i, 32)}])), range(40)))
    for i, number in numbers:
        assert bank.status(number).json()["hashes"][0]["value"] == hex_of(i, 32)


def test_a_pin_hashed_at_another_cost_still_opens_its_case(make_bank):
    number = make_bank(scrypt_n=2**12).new_case(pin="13579246")
    later = make_bank(scrypt_n=2**10)  # the operator changed the cost: old hashes keep their own
    assert later.status(number, "13579246").status_code == 200
    assert later.status(number, "13579247").status_code == 403


def vpdq_frames(count: int, seed: int = 0) -> list[str]:
    """A video's vPDQ as a client sends it: frames one second apart, every other hex in upper case; frames
    of different seeds are as far apart as unrelated pictures' (random bits)."""
    frames = []
    for i in range(count):
        hex_ = hashlib.sha256(f"{seed}-{i}".encode()).hexdigest()
        frames.append(f"{hex_.upper() if i % 2 else hex_},{50 + i % 51},{i}.0")
    return frames


def test_a_video_vpdq_is_kept_whole_and_named_by_its_sha256(bank):
    """The bank keeps a vPDQ as python-threatexchange serialises it (its vpdq_to_json, the reference here),
    counts it as one hash of the case, and shows the victim its SHA-256 and how many frames it has."""
    from threatexchange.extensions.vpdq.vpdq_util import json_to_vpdq, vpdq_to_json

    frames = vpdq_frames(300)
    expected_body = vpdq_to_json(
        json_to_vpdq(json.dumps([f.lower() for f in frames]))
    )  # hex lowercased, as the bank keeps every hash
    hashes = [{"type": "vpdq", "value": frames}] + [{"type": "md5", "value": hex_of(i, 32)} for i in range(199)]
    number = bank.new_case(hashes)
    shown = bank.status(number).json()["hashes"]
    video = next(h for h in shown if h["type"] == "vpdq")
    assert video["value"] == hashlib.sha256(expected_body.encode()).hexdigest() and video["frames"] == 300
    assert bank.create(case_body(hashes + [{"type": "md5", "value": "f" * 32}])).json()["error"]["code"] == (
        "too_many_hashes"
    )


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("not a list", "invalid_hash"),
        ([], "invalid_hash"),
        (["ab,50,1.0"], "invalid_hash"),
        ([f"{'a' * 64},101,1.0"], "invalid_hash"),
        ([f"{'a' * 64},50,-1.0"], "invalid_hash"),
        ([f"{'a' * 64},50,nan"], "invalid_hash"),
        ([f"{'a' * 64},50"], "invalid_hash"),
        ([f"{'a' * 64},50,1.0"] * (MAX_VPDQ_FRAMES + 1), "invalid_hash"),
    ],
)
def test_a_malformed_vpdq_is_refused(bank, value, code):
    response = bank.create(case_body([{"type": "vpdq", "value": value}]))
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert bank.rows("hashes") == 0


def test_a_vpdq_takes_no_quality_or_kind(bank):
    for extra in ({"quality": 50}, {"kind": "original"}):
        response = bank.create(case_body([{"type": "vpdq", "value": vpdq_frames(2), **extra}]))
        assert response.json()["error"]["code"] == "unknown_field"
