"""Strict request parsing: bounded body, JSON without duplicate keys, no unknown fields."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from localhash.errors import LocalhashError
from localhash.hashtypes import HASH_TYPES
from localhash.match import KINDS
from localhash.vpdq_match import parse_vpdq

from .credentials import PIN_PATTERN
from .errors import ApiError, bad_request

VICTIM_BODY_LIMIT = 64 * 1024  # a PIN (status, withdrawal)
# A new case: 200 image hashes take about 20 KB; a video's vPDQ about 76 bytes per second of video.
CASE_BODY_LIMIT = 8 * 1024 * 1024
PARTNER_BODY_LIMIT = 1024 * 1024
MAX_HASHES = 200  # per case; a video's vPDQ counts as one
MAX_VPDQ_FRAMES = 6 * 3600  # six hours at vpdq's one frame per second
CASE_HASH_TYPES = ("pdq", "md5", "sha256", "vpdq")
CONSENTS = ("adult", "depicted", "intimate", "share_hashes")
# What a PDQ hash is of, when the client says (localhash's names): the picture as shown ("original"), as
# stored before its EXIF turn ("oriented"), turned or mirrored ("rot90", "flipx", ...), or put in an app's
# frame ("fit_9x16_bars", "fill_1x1", ...). Partners may review or threshold each kind on its own.
HASH_KINDS = KINDS


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Duplicate("a key appears twice in one object")
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def read_json(request: Request, limit: int) -> Any:
    """The request's JSON body, read no further than `limit` bytes."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as Content-Type: application/json")
    too_large = ApiError(413, "too_large", f"the request body must be at most {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks), object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except _Duplicate as exc:
        raise bad_request("bad_json", str(exc)) from None
    except (ValueError, RecursionError):
        raise bad_request("bad_json", "the body is not valid JSON (UTF-8)") from None


def fields(value: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    """`value` as an object with exactly the given keys (the optional ones may be absent)."""
    if not isinstance(value, dict):
        raise bad_request("invalid_type", f"{where} must be a JSON object")
    unknown = sorted(set(value) - set(required) - set(optional))
    if unknown:
        raise bad_request("unknown_field", f"{where} has an unknown field {unknown[0]!r:.60}")
    missing = [key for key in required if key not in value]
    if missing:
        raise bad_request("missing_field", f"{where} needs the field {missing[0]!r}")
    return value


def pin_of(body: dict) -> str:
    pin = body["pin"]
    if not isinstance(pin, str) or not PIN_PATTERN.fullmatch(pin):
        raise bad_request("invalid_pin", "pin must be a string of 6 to 32 digits")
    return pin


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class CaseRequest:
    pin: str
    # (type, canonical value, quality, kind, body), no repeats. A vPDQ's value is the SHA-256 of its body,
    # python-threatexchange's JSON list of frames, which alone is kept in `body` (None for every other type).
    hashes: tuple[tuple[str, str, int | None, str | None, str | None], ...]

    def canonical(self) -> bytes:
        """What a retry must repeat exactly to count as the same submission. A hash without a kind
        is spelled as before kinds existed, so a retry across an upgrade is still recognised."""
        spelled = [list(h[:4]) if h[3] is not None else list(h[:3]) for h in self.hashes]
        return json.dumps([self.pin, sorted(spelled, key=lambda h: (h[0], h[1]))]).encode()


def vpdq_body(value: Any, where: str) -> str:
    """A vPDQ as python-threatexchange stores it (vpdq_to_json: a JSON list of "hex,quality,timestamp", hex
    lowercase, timestamps as it prints them), from the list of frame strings a client sends."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_VPDQ_FRAMES:
        raise bad_request("invalid_hash", f"{where}.value must be a list of 1 to {MAX_VPDQ_FRAMES} vPDQ frames")
    try:
        frames = parse_vpdq(value)
    except LocalhashError as exc:
        raise bad_request("invalid_hash", f"{where}: {exc.message}") from None
    return json.dumps([str(frame) for frame in frames])


def parse_case(body: Any) -> CaseRequest:
    body = fields(body, "the body", ("pin", "hashes", "consent"))
    pin = pin_of(body)
    consent = fields(body["consent"], "consent", CONSENTS)
    for key in CONSENTS:
        if consent[key] is not True:
            raise ApiError(422, "consent_required", f"consent.{key} must be true: every consent is needed")
    raw = body["hashes"]
    if not isinstance(raw, list):
        raise bad_request("invalid_type", "hashes must be a list")
    if not raw:
        raise bad_request("no_hashes", "hashes must hold at least one hash")
    if len(raw) > MAX_HASHES:
        raise bad_request("too_many_hashes", f"at most {MAX_HASHES} hashes per case")
    seen: dict[tuple[str, str], tuple[int | None, str | None, str | None]] = {}
    for index, item in enumerate(raw):
        where = f"hashes[{index}]"
        item = fields(item, where, ("type", "value"), ("quality", "kind"))
        hash_type = item["type"]
        if hash_type not in CASE_HASH_TYPES:
            raise bad_request("unsupported_type", f"{where}.type must be one of {', '.join(CASE_HASH_TYPES)}")
        body = None
        if hash_type == "vpdq":
            body = vpdq_body(item["value"], where)
            value = hashlib.sha256(body.encode()).hexdigest()
        else:
            try:
                value = HASH_TYPES[hash_type].validate(item["value"])
            except LocalhashError as exc:
                raise bad_request("invalid_hash", f"{where}: {exc.message}") from None
        for field in ("quality", "kind"):
            if field in item and hash_type != "pdq":
                raise bad_request("unknown_field", f"{where}: {field} applies to pdq hashes only")
        quality = item.get("quality")
        if "quality" in item and (not is_int(quality) or not 0 <= quality <= 100):
            raise bad_request("invalid_quality", f"{where}.quality must be an integer from 0 to 100")
        kind = item.get("kind")
        if "kind" in item and (not isinstance(kind, str) or kind not in HASH_KINDS):
            raise bad_request(
                "invalid_kind", f"{where}.kind must be one of localhash's names (original, rot90, fit_1x1_bars, ...)"
            )
        # One picture can give the same hash twice (a symmetric photo turned): the first word on it stays.
        seen.setdefault((hash_type, value), (quality, kind, body))
    return CaseRequest(pin, tuple((t, value, *rest) for (t, value), rest in seen.items()))
