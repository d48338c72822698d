"""localhash: the fingerprints a platform computes, computed on the victim's own device.

Public API:
    hash_bytes(data, dihedral=False, mode="full")  -> record dict (the CLI's line, the browser's result)
    HashStream()                                    -> MD5 and SHA-256 fed by chunks
    HASH_TYPES, PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY
    Bank                                            -> Hamming search of a PDQ bank
"""

from .digests import HashStream
from .errors import ERROR_CODES, LocalhashError
from .hashtypes import HASH_TYPES, PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY, HashType
from .match import Bank
from .record import hash_bytes

__version__ = "0.1.0"

__all__ = [
    "ERROR_CODES",
    "HASH_TYPES",
    "PDQ_MATCH_THRESHOLD",
    "PDQ_MIN_QUALITY",
    "Bank",
    "HashStream",
    "HashType",
    "LocalhashError",
    "hash_bytes",
]
