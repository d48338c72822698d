"""The victim API: create a case, see its status and the partners' feedback, withdraw it.

Case lifecycle (what `status` says):
- `received`: stored and committed; no partner has fetched any of its hashes yet.
- `active`: at least one partner's FetchHashes has delivered one of its hashes (the bank marks
  the case in the same request that delivers it).
- `withdrawn`: the victim withdrew it; its hashes are re-published as Withdrawn unless another
  case that is not withdrawn holds the same hash.
"""

from __future__ import annotations

import hmac
import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import credentials
from .context import Bank, bank_of, iso, scrypt
from .errors import ApiError, bad_request
from .signals import HASH_TYPE, SIGNAL_TYPE, VICTIM_RESULT
from .store import Tx
from .validation import CASE_BODY_LIMIT, VICTIM_BODY_LIMIT, fields, parse_case, pin_of, read_json

IDEMPOTENCY_SECONDS = 24 * 3600


# -- creation ------------------------------------------------------------------------------------


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 16 <= len(key) <= 200 or not key.isascii() or not key.isprintable():
        raise bad_request("invalid_idempotency_key", "Idempotency-Key must be 16 to 200 printable ASCII characters")
    return key


def _find_replay(tx: Tx, key_hash: str) -> tuple[str, str] | None:
    row = tx.one(
        "SELECT request_mac, sealed_number FROM idempotency WHERE key_hash = ? AND created_at >= ?",
        (key_hash, tx.now - IDEMPOTENCY_SECONDS),
    )
    return (row[0], row[1]) if row else None


def _insert_case(
    tx: Tx,
    number_hash: str,
    pin_hash: str,
    hashes: tuple[tuple[str, str, int | None, str | None, str | None], ...],
    idempotency: tuple[str, str, str] | None,
) -> tuple[str, str] | None:
    """Store one case and its hashes; returns the earlier (mac, sealed number) instead when a
    request with the same Idempotency-Key committed first."""
    if idempotency is not None:
        earlier = _find_replay(tx, idempotency[0])
        if earlier is not None:
            return earlier
    case_id = tx.one(
        "INSERT INTO cases (uuid, number_hash, pin_hash, status, status_at)"
        " VALUES (?, ?, ?, 'received', ?) RETURNING id",
        (str(uuid.uuid4()), number_hash, pin_hash, tx.now),
    )[0]
    # Sorted, so that concurrent writers (several processes on PostgreSQL) lock rows in one order.
    ordered = sorted(hashes, key=lambda h: (h[1], h[0]))
    params: list[Any] = []
    for hash_type, value, _, _, body in ordered:
        params += [SIGNAL_TYPE[hash_type], value, tx.now, body]
    # A hash another case already holds gets a new last_modified: partners see the new case. (A vPDQ's
    # value is its body's SHA-256: the same value is the same body.)
    rows = tx.all(
        "INSERT INTO hashes (signal_type, value, last_modified, body) VALUES "
        + ", ".join(["(?, ?, ?, ?)"] * len(ordered))
        + " ON CONFLICT (value, signal_type) DO UPDATE SET last_modified = excluded.last_modified"
        " RETURNING id, signal_type, value",
        params,
    )
    ids = {(HASH_TYPE[signal], value): hash_id for hash_id, signal, value in rows}
    tx.many(
        "INSERT INTO case_hashes (case_id, hash_id, quality, kind) VALUES (?, ?, ?, ?)",
        [(case_id, ids[(hash_type, value)], quality, kind) for hash_type, value, quality, kind, _ in ordered],
    )
    if idempotency is not None:
        tx.run("DELETE FROM idempotency WHERE created_at < ?", (tx.now - IDEMPOTENCY_SECONDS,))
        tx.run(
            "INSERT INTO idempotency (key_hash, request_mac, sealed_number, created_at) VALUES (?, ?, ?, ?)",
            (*idempotency, tx.now),
        )
    return None


def _replayed(earlier: tuple[str, str], key: str, mac: str) -> JSONResponse:
    earlier_mac, sealed = earlier
    if not hmac.compare_digest(earlier_mac, mac):
        raise ApiError(409, "idempotency_conflict", "this Idempotency-Key was already used for a different submission")
    return JSONResponse(
        {"case_number": credentials.unseal(sealed, key)}, status_code=201, headers={"Idempotent-Replayed": "true"}
    )


async def create_case(request: Request) -> JSONResponse:
    bank = bank_of(request)
    key = _idempotency_key(request)
    case = parse_case(await read_json(request, CASE_BODY_LIMIT))
    wait = bank.create_limiter.allow(request.client.host if request.client else "")
    if wait:
        raise ApiError(
            429, "rate_limited", "too many new cases from this client; try again later", {"Retry-After": str(int(wait))}
        )
    number = credentials.new_case_number()
    pin_hash = await scrypt(bank, credentials.hash_pin, case.pin)
    idempotency = mac = None
    if key is not None:
        # The replay check happens inside the write: a retry costs one scrypt, not an extra query each.
        mac = credentials.request_mac(key, case.canonical())
        idempotency = (credentials.key_hash(key), mac, credentials.seal(number, key))
    earlier = await bank.store.write(
        _insert_case, credentials.case_number_hash(number), pin_hash, case.hashes, idempotency
    )
    if earlier is not None:
        return _replayed(earlier, key, mac)
    return JSONResponse({"case_number": number}, status_code=201)


# -- PIN-guarded access ---------------------------------------------------------------------------


def _find_case(tx: Tx, number_hash: str) -> tuple[int, str] | None:
    row = tx.one("SELECT id, pin_hash FROM cases WHERE number_hash = ?", (number_hash,))
    return (row[0], row[1]) if row else None


def _reserve_attempt(tx: Tx, case_id: int, attempts: int, lockout: int) -> tuple[int | None, int]:
    """Count this attempt BEFORE checking the PIN, so parallel guesses cannot outrun the limit.
    Returns (attempts so far or None when locked, locked_until)."""
    row = tx.one(
        "UPDATE cases SET failed_pins = failed_pins + 1,"
        " locked_until = CASE WHEN failed_pins + 1 >= ? THEN ? ELSE locked_until END"
        " WHERE id = ? AND locked_until <= ? RETURNING failed_pins",
        (attempts, tx.now + lockout, case_id, tx.now),
    )
    if row is None:
        return None, tx.one("SELECT locked_until FROM cases WHERE id = ?", (case_id,))[0]
    return row[0], 0


def _pin_ok(tx: Tx, case_id: int) -> None:
    tx.run("UPDATE cases SET failed_pins = 0, locked_until = 0 WHERE id = ?", (case_id,))


async def _open_case(request: Request) -> tuple[Bank, int, str]:
    """The case named in the path, once the body's PIN proved to be its PIN."""
    bank = bank_of(request)
    body = fields(await read_json(request, VICTIM_BODY_LIMIT), "the body", ("pin",))
    pin = pin_of(body)
    number = credentials.normalise_case_number(request.path_params["case"])
    not_found = ApiError(404, "not_found", "no case has this number")
    if number is None:
        raise not_found
    found = await bank.store.read(_find_case, credentials.case_number_hash(number))
    if found is None:
        raise not_found
    case_id, pin_hash = found
    config = bank.config
    used, locked_until = await bank.store.write(
        _reserve_attempt, case_id, config.pin_attempts, config.pin_lockout_seconds
    )
    if used is None:
        retry = max(1, locked_until - bank.store.clock.now())
        raise ApiError(429, "locked", "too many wrong PINs for this case; try again later", {"Retry-After": str(retry)})
    if not await scrypt(bank, credentials.check_pin, pin, pin_hash):
        left = max(0, config.pin_attempts - used)
        message = f"wrong PIN; {left} more attempts before a lockout" if left else "wrong PIN; the case is now locked"
        raise ApiError(403, "wrong_pin", message)
    return bank, case_id, number


# -- status ----------------------------------------------------------------------------------------


def _status(tx: Tx, case_id: int) -> dict:
    _pin_ok(tx, case_id)
    status, status_at = tx.one("SELECT status, status_at FROM cases WHERE id = ?", (case_id,))
    hashes = tx.all(
        "SELECT h.id, h.signal_type, h.value, ch.quality, ch.kind, h.body"
        " FROM case_hashes ch JOIN hashes h ON h.id = ch.hash_id WHERE ch.case_id = ? ORDER BY h.id",
        (case_id,),
    )
    feedback: dict[int, dict[str, tuple[str, int]]] = {}
    for hash_id, partner, value, at in tx.all(
        "SELECT f.hash_id, p.name, f.value, f.at FROM case_hashes ch JOIN feedback f ON f.hash_id = ch.hash_id"
        " JOIN partners p ON p.id = f.partner_id WHERE ch.case_id = ?",
        (case_id,),
    ):
        feedback.setdefault(hash_id, {})[partner] = (value, at)
    partners = [name for (name,) in tx.all("SELECT name FROM partners WHERE revoked_at IS NULL ORDER BY name")]
    out = []
    for hash_id, signal, value, quality, kind, body in hashes:
        given = feedback.get(hash_id, {})
        entries = []
        for partner in sorted(set(partners) | set(given)):
            if partner in given:
                raw, at = given[partner]
                entries.append({"partner": partner, "result": VICTIM_RESULT.get(raw, "pending"), "at": iso(at)})
            else:
                entries.append({"partner": partner, "result": "pending", "at": None})
        item: dict[str, Any] = {"type": HASH_TYPE[signal], "value": value}
        if quality is not None:
            item["quality"] = quality
        if kind is not None:  # cases from before kinds were kept (schema v1) have none
            item["kind"] = kind
        if body is not None:  # a vPDQ: its value is the frames' SHA-256; the victim sees how many frames
            item["frames"] = len(json.loads(body))
        item["feedback"] = entries
        out.append(item)
    return {"status": status, "status_changed": iso(status_at), "hashes": out}


async def case_status(request: Request) -> JSONResponse:
    bank, case_id, number = await _open_case(request)
    return JSONResponse({"case_number": number, **await bank.store.write(_status, case_id)})


# -- withdrawal ------------------------------------------------------------------------------------


def _withdraw(tx: Tx, case_id: int) -> dict:
    _pin_ok(tx, case_id)
    (status,) = tx.one("SELECT status FROM cases WHERE id = ?", (case_id,))
    if status != "withdrawn":
        tx.run("UPDATE cases SET status = 'withdrawn', status_at = ? WHERE id = ?", (tx.now, case_id))
        # Every partner fetches these hashes again; FetchHashes says Withdrawn unless another
        # case still holds the hash.
        tx.run(
            "UPDATE hashes SET last_modified = ? WHERE id IN (SELECT hash_id FROM case_hashes WHERE case_id = ?)",
            (tx.now, case_id),
        )
    (status_at,) = tx.one("SELECT status_at FROM cases WHERE id = ?", (case_id,))
    return {"status": "withdrawn", "status_changed": iso(status_at)}


async def withdraw_case(request: Request) -> JSONResponse:
    bank, case_id, number = await _open_case(request)
    return JSONResponse({"case_number": number, **await bank.store.write(_withdraw, case_id)})
