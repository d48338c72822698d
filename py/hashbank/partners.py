"""The partner API in StopNCII's shape (FetchHashes, SubmitFeedback), its keys, and key management.

The shape is what python-threatexchange 1.2.17's `StopNCIIAPI` sends and parses
(threatexchange/exchanges/clients/stopncii/api.py): keys in the `Ocp-Apim-Subscription-Key`
and `x-functions-key` headers; `GET FetchHashes?startTimestamp=&pageSize=&nextPageToken=`;
`POST SubmitFeedback {count, hashFeedbacks: [{hashValue, feedbackValue, tags}]}`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import credentials
from .context import bank_of, iso
from .errors import ApiError, bad_request
from .signals import (
    DEFAULT_FEED_TYPES,
    FEED_TYPES,
    FEEDBACK_VALUES,
    enum_value,
)
from .store import Store, Tx, placeholders
from .validation import PARTNER_BODY_LIMIT, fields, is_int, read_json

DEFAULT_PAGE_SIZE = 800  # the client's default
MAX_PAGE_SIZE = 1000
# A page stops before its vPDQ bodies pass this many bytes (a six-hour video's is 1.6 MB), with at least one
# record: 800 vPDQ records would otherwise be a response of hundreds of megabytes.
MAX_PAGE_BODY_BYTES = 8 * 1024 * 1024
MAX_FEEDBACKS = 1000
MAX_TAGS, MAX_TAG_LENGTH = 32, 128
# nextSetTimestamp never comes closer to now than this: a write that took its timestamp just
# before a fetch but committed just after it must still be fetched next time.
CHECKPOINT_LAG_SECONDS = 60
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")


# -- authentication ----------------------------------------------------------------------------


UNAUTHORISED = (401, "unauthorized", "send a partner's Ocp-Apim-Subscription-Key and x-functions-key headers")


def _key_hashes(request: Request) -> tuple[str, str]:
    subscription = request.headers.get("ocp-apim-subscription-key")
    function = request.headers.get("x-functions-key")
    if not subscription or not function:
        raise ApiError(*UNAUTHORISED)
    return credentials.key_hash(subscription), credentials.key_hash(function)


def _check_partner(tx: Tx, keys: tuple[str, str]) -> tuple[int, str]:
    """(id, name) of the partner holding these keys; 401 for unknown keys, 403 when revoked."""
    row = tx.one(
        "SELECT id, name, function_key_hash, revoked_at FROM partners WHERE subscription_key_hash = ?", (keys[0],)
    )
    if row is None or not hmac.compare_digest(row[2], keys[1]):
        raise ApiError(*UNAUTHORISED)
    if row[3] is not None:
        raise ApiError(403, "revoked", "this partner's keys were revoked")
    return row[0], row[1]


# -- FetchHashes --------------------------------------------------------------------------------


def encode_token(last_modified: int, hash_id: int) -> str:
    return base64.urlsafe_b64encode(f"{last_modified}:{hash_id}".encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[int, int]:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        last_modified, hash_id = text.split(":")
        if not (last_modified.isdigit() and hash_id.isdigit()) or len(text) > 40:
            raise ValueError
        return int(last_modified), int(hash_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_request("invalid_token", "nextPageToken is not one this bank gave out") from None


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise bad_request("invalid_parameter", f"{name} must be a whole number")
    if int(text) < low:
        raise bad_request("invalid_parameter", f"{name} must be at least {low}")
    return min(int(text), high)  # a larger page size is served as the largest


def _page(tx: Tx, keys: tuple[str, str], position: tuple[int, int], types: tuple[str, ...], size: int) -> dict:
    _check_partner(tx, keys)  # in the same read: one trip to the database thread per page
    # Two index seeks rather than one row-value comparison `(last_modified, id) > (?, ?)`: SQLite
    # would seek on last_modified alone and scan every hash of that second (a bulk import puts
    # a million in one second); each of these two starts exactly where the page starts.
    ts, after_id = position
    kinds = f"signal_type IN ({placeholders(len(types))})"
    columns = "SELECT id, signal_type, value, last_modified, coalesce(length(body), 0) FROM hashes"
    rows = tx.all(
        f"{columns} WHERE last_modified = ? AND id > ? AND {kinds} ORDER BY last_modified, id LIMIT ?",
        (ts, after_id, *types, size + 1),
    )
    if len(rows) <= size:
        rows += tx.all(
            f"{columns} WHERE last_modified > ? AND {kinds} ORDER BY last_modified, id LIMIT ?",
            (ts, *types, size + 1 - len(rows)),
        )
    more = len(rows) > size
    rows = rows[:size]
    budget = MAX_PAGE_BODY_BYTES
    for index, row in enumerate(rows):
        budget -= row[4]
        if budget < 0 and index > 0:
            rows, more = rows[:index], True
            break
    ids = [row[0] for row in rows]
    bodies: dict[int, str] = {}
    with_body = [row[0] for row in rows if row[4]]
    if with_body:
        where, params = tx.in_list("id", with_body)
        bodies = dict(tx.all(f"SELECT id, body FROM hashes WHERE {where}", params))
    links: dict[int, list[tuple[int, str, str, str | None]]] = {}
    feedback: dict[int, list[tuple[str, str, str]]] = {}
    if ids:
        where, params = tx.in_list("ch.hash_id", ids)
        for hash_id, case_id, case_uuid, status, kind in tx.all(
            "SELECT ch.hash_id, c.id, c.uuid, c.status, ch.kind FROM case_hashes ch JOIN cases c ON c.id = ch.case_id"
            f" WHERE {where}",
            params,
        ):
            links.setdefault(hash_id, []).append((case_id, case_uuid, status, kind))
        where, params = tx.in_list("f.hash_id", ids)
        for hash_id, source, value, tags in tx.all(
            "SELECT f.hash_id, p.name, f.value, f.tags FROM feedback f JOIN partners p ON p.id = f.partner_id"
            f" WHERE {where} ORDER BY p.name",
            params,
        ):
            feedback.setdefault(hash_id, []).append((source, value, tags))
    return {"rows": rows, "more": more, "links": links, "feedback": feedback, "bodies": bodies}


def _activate(tx: Tx, case_ids: list[int]) -> None:
    """received -> active: a partner has now been handed the case's hashes."""
    where, params = tx.in_list("id", case_ids)
    tx.run(
        f"UPDATE cases SET status = 'active', status_at = ? WHERE status = 'received' AND {where}", (tx.now, *params)
    )


def _record_json(
    row: tuple, links: list[tuple[int, str, str, str | None]], feedback: list[tuple[str, str, str]], body: str | None
) -> str:
    """One hash record as JSON text, assembled directly: a page is 800 of these, and building
    dicts for json.dumps took longer than the queries. Only the partner-chosen strings (names,
    tags) need escaping; every other value is hex, a UUID, a number or one of our constants."""
    _, signal, value, last_modified, _ = row
    cases, kinds, held = [], [], False
    for _, case_uuid, status, kind in links:
        if kind is not None:  # a validated name (validation.HASH_KINDS): nothing to escape
            kinds.append(f'"{case_uuid}":"{kind}"')
        # Being delivered now makes a received case active (see _activate).
        if status == "withdrawn":
            cases.append(f'"{case_uuid}":"Withdrawn"')
        else:
            cases.append(f'"{case_uuid}":"Active"')
            held = True
    opinions = ",".join(
        f'{{"source":{json.dumps(source)},"feedbackValue":"{fb}","tags":{tags}}}' for source, fb, tags in feedback
    )
    # The hash is Active while any case that is not withdrawn holds it.
    # A vPDQ's hashValue is VPDQSignal's string (JSON text, escaped here); its SHA-256 names it in SubmitFeedback.
    shown = f'{json.dumps(body)},"hashValueSha256":"{value}"' if body is not None else f'"{value}"'
    return (
        f'{{"lastModtimestamp":{last_modified},"signalType":"{signal}","hashValue":{shown},'
        f'"hashStatus":"{"Active" if held else "Withdrawn"}","caseNumbers":{{{",".join(cases)}}},'
        f'"caseKinds":{{{",".join(kinds)}}},"CSPFeedbacks":[{opinions}]}}'
    )


def _feed_types(request: Request) -> tuple[str, ...]:
    text = request.query_params.get("signalTypes")
    if not text:
        return DEFAULT_FEED_TYPES
    types = tuple(dict.fromkeys(t.strip() for t in text.split(",")))
    for kind in types:
        if kind not in FEED_TYPES:
            raise bad_request("invalid_parameter", f"signalTypes may list {', '.join(FEED_TYPES)}")
    return types


async def fetch_hashes(request: Request) -> Response:
    keys = _key_hashes(request)
    store = bank_of(request).store
    start = _int_param(request, "startTimestamp", 0, 0, 2**62)
    size = _int_param(request, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    types = _feed_types(request)
    token = request.query_params.get("nextPageToken")
    # Records with lastModtimestamp >= startTimestamp in (lastModtimestamp, id) order; the token
    # is the last (lastModtimestamp, id) handed out, so a page is an index range scan.
    position = decode_token(token) if token else (start, -1)
    page = await store.read(_page, keys, position, types, size)
    received = sorted({case_id for links in page["links"].values() for case_id, _, s, _ in links if s == "received"})
    if received:
        await store.write(_activate, received)
    rows, links, feedback, bodies = page["rows"], page["links"], page["feedback"], page["bodies"]
    records = ",".join(
        _record_json(row, links.get(row[0], []), feedback.get(row[0], []), bodies.get(row[0])) for row in rows
    )
    reached = rows[-1][3] if rows else position[0]
    checkpoint = max(start, min(reached, store.clock.now() - CHECKPOINT_LAG_SECONDS))
    token = json.dumps(encode_token(rows[-1][3], rows[-1][0]) if page["more"] else None)
    body = (
        f'{{"count":{len(rows)},"nextPageToken":{token},"nextSetTimestamp":{checkpoint},'
        f'"hasMoreRecords":{json.dumps(page["more"])},"hashRecords":[{records}]}}'
    )
    return Response(body, media_type="application/json")


# -- SubmitFeedback -----------------------------------------------------------------------------


def _parse_feedback(item: Any, where: str) -> tuple[str, str | None, str, str]:
    item = fields(item, where, ("hashValue", "feedbackValue"), ("signalType", "tags"))
    value = item["hashValue"]
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{64}", value.strip()):
        raise bad_request("invalid_hash", f"{where}.hashValue must be 32 or 64 hexadecimal digits")
    signal = None
    if item.get("signalType") is not None:
        raw = item["signalType"]
        signal = enum_value(raw, FEED_TYPES, "StopNCIISignalType") if isinstance(raw, str) else None
        if signal is None:
            raise bad_request("invalid_signal_type", f"{where}.signalType must be one of {', '.join(FEED_TYPES)}")
    raw = item["feedbackValue"]
    feedback = enum_value(raw, FEEDBACK_VALUES, "StopNCIICSPFeedbackValue") if isinstance(raw, str) else None
    if feedback is None:
        raise bad_request("invalid_feedback", f"{where}.feedbackValue must be one of {', '.join(FEEDBACK_VALUES)}")
    tags = item.get("tags", [])
    if (
        not isinstance(tags, list)
        or len(tags) > MAX_TAGS
        or not all(isinstance(t, str) and 0 < len(t) <= MAX_TAG_LENGTH for t in tags)
    ):
        raise bad_request("invalid_tags", f"{where}.tags must be at most {MAX_TAGS} strings of 1-{MAX_TAG_LENGTH}")
    return value.strip().lower(), signal, feedback, json.dumps(sorted(set(tags)))


def _apply_feedback(tx: Tx, partner_id: int, items: list[tuple[str, str | None, str, str]]) -> list[str]:
    not_found = []
    for value, signal, feedback, tags in items:
        if signal is None:  # the client sends no signalType: the value alone names the hash
            hash_ids = [r[0] for r in tx.all("SELECT id FROM hashes WHERE value = ?", (value,))]
        else:
            hash_ids = [
                r[0] for r in tx.all("SELECT id FROM hashes WHERE value = ? AND signal_type = ?", (value, signal))
            ]
        if not hash_ids:
            not_found.append(value)
        for hash_id in hash_ids:
            tx.run(
                "INSERT INTO feedback (hash_id, partner_id, value, tags, at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (hash_id, partner_id) DO UPDATE SET value = excluded.value, tags = excluded.tags,"
                " at = excluded.at",
                (hash_id, partner_id, feedback, tags, tx.now),
            )
            # Other partners see the new feedback on their next fetch.
            tx.run("UPDATE hashes SET last_modified = ? WHERE id = ?", (tx.now, hash_id))
    return not_found


async def submit_feedback(request: Request) -> JSONResponse:
    partner_id, _ = await bank_of(request).store.read(_check_partner, _key_hashes(request))
    body = fields(await read_json(request, PARTNER_BODY_LIMIT), "the body", ("hashFeedbacks",), ("count",))
    raw = body["hashFeedbacks"]
    if not isinstance(raw, list) or len(raw) > MAX_FEEDBACKS:
        raise bad_request("invalid_type", f"hashFeedbacks must be a list of at most {MAX_FEEDBACKS}")
    if "count" in body and (not is_int(body["count"]) or body["count"] != len(raw)):
        raise bad_request("invalid_count", "count must be the number of hashFeedbacks")
    items = [_parse_feedback(item, f"hashFeedbacks[{i}]") for i, item in enumerate(raw)]
    not_found = await bank_of(request).store.write(_apply_feedback, partner_id, items)
    return JSONResponse({"count": len(items) - len(not_found), "notFound": not_found})


# -- key management (python -m hashbank partner ...) --------------------------------------------


def _add(tx: Tx, name: str, subscription_hash: str, function_hash: str) -> bool:
    if tx.one("SELECT 1 FROM partners WHERE name = ?", (name,)):
        return False
    tx.run(
        "INSERT INTO partners (name, subscription_key_hash, function_key_hash, created_at) VALUES (?, ?, ?, ?)",
        (name, subscription_hash, function_hash, tx.now),
    )
    return True


def add_partner(store: Store, name: str) -> dict[str, str]:
    """Create a partner; its keys are returned here once and only their hashes are kept."""
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError("a partner name is 1-64 letters, digits, spaces, '.', '_' or '-', not starting with a symbol")
    subscription, function = credentials.new_partner_key(), credentials.new_partner_key()
    if not store.write_sync(_add, name, credentials.key_hash(subscription), credentials.key_hash(function)):
        raise ValueError(f"a partner named {name!r} exists already")
    return {"name": name, "subscription_key": subscription, "function_key": function}


def list_partners(store: Store) -> list[dict[str, Any]]:
    rows = store.read_sync(lambda tx: tx.all("SELECT name, created_at, revoked_at FROM partners ORDER BY name"))
    return [{"name": name, "created": iso(created), "revoked": iso(revoked)} for name, created, revoked in rows]


def rotate_partner(store: Store, name: str) -> dict[str, str]:
    """New keys for a partner with keys in force, returned here once; its old keys stop working with this commit.

    The same row keeps its id, so the partner's feedback stays its own and victims keep seeing it under
    the same name. A revoked partner is refused: revocation is meant to be final (README "Rotating keys").
    """
    subscription, function = credentials.new_partner_key(), credentials.new_partner_key()

    def rotate(tx: Tx) -> int:
        return tx.run(
            "UPDATE partners SET subscription_key_hash = ?, function_key_hash = ?"
            " WHERE name = ? AND revoked_at IS NULL",
            (credentials.key_hash(subscription), credentials.key_hash(function), name),
        )

    if not store.write_sync(rotate):
        raise ValueError(f"no partner named {name!r} with keys in force")
    return {"name": name, "subscription_key": subscription, "function_key": function}


def revoke_partner(store: Store, name: str) -> None:
    def revoke(tx: Tx) -> int:
        return tx.run("UPDATE partners SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (tx.now, name))

    if not store.write_sync(revoke):
        raise ValueError(f"no partner named {name!r} with keys in force")
