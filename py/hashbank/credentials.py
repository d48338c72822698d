"""Case numbers, PINs, partner keys and idempotency seals: made, hashed and checked here only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

# Crockford's base32 (https://www.crockford.com/base32.html): digits and capitals without
# I, L, O and U, so nothing reads as something else; a person typing O, I or L gets 0 or 1.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
GROUPS, GROUP_LENGTH = 5, 4  # 20 characters x 5 bits = 100 random bits (the issue asks >= 96)
CASE_NUMBER_LENGTH = GROUPS * GROUP_LENGTH
PIN_PATTERN = re.compile(r"[0-9]{6,32}")


def new_case_number() -> str:
    """`XXXX-XXXX-XXXX-XXXX-XXXX`, 100 bits from the OS's CSPRNG, 5 bits per character."""
    bits = secrets.randbits(CASE_NUMBER_LENGTH * 5)
    chars = "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(CASE_NUMBER_LENGTH))
    return "-".join(chars[i : i + GROUP_LENGTH] for i in range(0, CASE_NUMBER_LENGTH, GROUP_LENGTH))


def normalise_case_number(text: str) -> str | None:
    """The canonical grouped form of what a person typed (any case, spaces or dashes, O/I/L for
    0/1), or None when it cannot be a case number."""
    compact = re.sub(r"[\s-]", "", text).upper().translate(LOOK_ALIKES)
    if len(compact) != CASE_NUMBER_LENGTH or any(c not in ALPHABET for c in compact):
        return None
    return "-".join(compact[i : i + GROUP_LENGTH] for i in range(0, CASE_NUMBER_LENGTH, GROUP_LENGTH))


def case_number_hash(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()


def hash_pin(pin: str, n: int, r: int, p: int) -> str:
    """Salted scrypt (RFC 7914); the parameters travel with the hash so they can be raised later."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def check_pin(pin: str, stored: str, **_cost: int) -> bool:
    """Check against the parameters stored with the hash (the configured ones may have changed)."""
    _, n, r, p, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(
        pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), maxmem=256 * 1024 * 1024, dklen=32
    )
    return hmac.compare_digest(candidate.hex(), digest)


def new_partner_key() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def key_hash(key: str) -> str:
    """Partner keys and idempotency keys are random, long strings: a plain SHA-256 is enough."""
    return hashlib.sha256(key.encode()).hexdigest()


def _pad(idempotency_key: str, length: int) -> bytes:
    return hashlib.sha256(b"localhash idempotency seal\0" + idempotency_key.encode()).digest()[:length]


def seal(case_number: str, idempotency_key: str) -> str:
    """The case number XORed with a pad only the holder of the Idempotency-Key can make."""
    data = case_number.encode()
    return base64.b64encode(bytes(a ^ b for a, b in zip(data, _pad(idempotency_key, len(data)), strict=True))).decode()


def unseal(sealed: str, idempotency_key: str) -> str:
    data = base64.b64decode(sealed)
    return bytes(a ^ b for a, b in zip(data, _pad(idempotency_key, len(data)), strict=True)).decode()


def request_mac(idempotency_key: str, canonical_request: bytes) -> str:
    """Keyed by the Idempotency-Key, so a stolen database cannot test PIN guesses against it."""
    return hmac.new(idempotency_key.encode(), canonical_request, hashlib.sha256).hexdigest()
