"""The HashType contract and the registry of every hash localhash computes.

Modelled on python-threatexchange's `SignalType`: each type knows its name and width,
normalises or rejects a string (strip, lowercase, exact length), and measures a distance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import INVALID_HASH, LocalhashError
from .hexbits import hamming_hex

# Meta's recommended match threshold for PDQ: Hamming distance <= 31 of 256 bits
# (ThreatExchange pdq/README.md, "Matching"; python-threatexchange pdq/signal.py).
PDQ_MATCH_THRESHOLD = 31
# Meta discards PDQ hashes whose quality is 49 or less (ThreatExchange pdq/README.md,
# "Quality"); HMA's default minimum is 50.
PDQ_MIN_QUALITY = 50


@dataclass(frozen=True)
class HashType:
    name: str
    bits: int
    perceptual: bool  # a distance means "how similar"; exact digests only match at 0
    description: str

    @property
    def hex_length(self) -> int:
        return self.bits // 4

    def validate(self, value: str) -> str:
        """Return the canonical spelling (stripped, lowercase) or raise invalid_hash."""
        if not isinstance(value, str):
            raise LocalhashError(INVALID_HASH, f"{self.name} hash must be a string")
        canonical = value.strip().lower()
        if not re.fullmatch(f"[0-9a-f]{{{self.hex_length}}}", canonical):
            raise LocalhashError(
                INVALID_HASH,
                f"{self.name} hash must be {self.hex_length} hexadecimal digits, got {value!r:.80}",
            )
        return canonical

    def distance(self, a: str, b: str) -> int:
        """Hamming distance between two valid hashes of this type."""
        return hamming_hex(self.validate(a), self.validate(b))


PDQ = HashType("pdq", 256, True, "Meta PDQ, 256-bit perceptual hash")
PHASH = HashType("phash", 64, True, "imagehash perceptual (DCT) hash")
DHASH = HashType("dhash", 64, True, "imagehash difference hash")
AHASH = HashType("ahash", 64, True, "imagehash average hash")
MD5 = HashType("md5", 128, False, "MD5 of the file's bytes")
SHA256 = HashType("sha256", 256, False, "SHA-256 of the file's bytes")

HASH_TYPES: dict[str, HashType] = {t.name: t for t in (PDQ, PHASH, DHASH, AHASH, MD5, SHA256)}


def perceptual_type_for(value: str) -> HashType:
    """The perceptual type a bare hex string must be, judged by its length (for `compare`)."""
    length = len(value.strip())
    for hash_type in (PDQ, PHASH):
        if hash_type.hex_length == length:
            return hash_type
    raise LocalhashError(INVALID_HASH, f"expected a 64-digit PDQ or a 16-digit pHash/dHash/aHash, got {value!r:.80}")
