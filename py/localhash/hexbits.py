"""Bit order and hex for every hash type: the one place where stored hashes get their spelling.

imagehash 4.0 and pdqhash 0.2 each changed their bit order once and silently broke every
stored hash. Both conventions live here and nowhere else, frozen by golden vectors in
tests/core/test_hexbits.py.
"""

from __future__ import annotations

import numpy as np

_WEIGHTS = 1 << np.arange(8, dtype=np.uint8)  # little-endian bits within a byte


def pdq_bits_to_hex(bits: np.ndarray) -> str:
    """256 booleans, bit k = coefficient k of the 16x16 DCT in row-major order, to Meta's hex.

    Meta's Hash256 keeps bit k in 16-bit word k >> 4 at position k & 15 and
    `Hash256::format()` prints word 15 first (pdq/cpp/common/pdqhashtypes.cpp), which is
    exactly the 256-bit integer sum(bit_k << k) printed as 64 hex digits.
    """
    flat = np.asarray(bits, dtype=bool).reshape(256)
    packed = np.packbits(flat, bitorder="little")  # byte j holds bits 8j..8j+7
    return packed[::-1].tobytes().hex()


def pdq_hex_to_bits(value: str) -> np.ndarray:
    """Inverse of pdq_bits_to_hex."""
    raw = np.frombuffer(bytes.fromhex(value)[::-1], dtype=np.uint8)
    return np.unpackbits(raw, bitorder="little").astype(bool)


def imagehash_bits_to_hex(bits: np.ndarray) -> str:
    """imagehash's spelling: the flattened boolean array read as one big-endian binary number.

    Same as imagehash 4.3 `_binary_array_to_hex`: first element is the most significant bit.
    """
    flat = np.asarray(bits, dtype=bool).ravel()
    width = (flat.size + 3) // 4
    return format(int("".join("1" if b else "0" for b in flat), 2), f"0{width}x")


def hex_to_bytes_array(values: list[str], nbytes: int) -> np.ndarray:
    """Many hex strings of one length to an (n, nbytes) uint8 array, for vectorised Hamming."""
    if not values:
        return np.zeros((0, nbytes), dtype=np.uint8)
    joined = bytes.fromhex("".join(values))
    return np.frombuffer(joined, dtype=np.uint8).reshape(len(values), nbytes)


def hamming_hex(a: str, b: str) -> int:
    """Hamming distance of two equally long hex strings."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
