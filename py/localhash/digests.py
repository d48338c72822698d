"""MD5 and SHA-256 of a file's bytes, fed in chunks so a multi-gigabyte video never sits in memory."""

from __future__ import annotations

import hashlib


class HashStream:
    """Feed chunks with `update`, read `hexdigests()` at any point.

    The browser reads a File with `File.slice` and passes each chunk here, so memory stays
    flat whatever the file's size.
    """

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes | bytearray | memoryview) -> HashStream:
        self._md5.update(chunk)
        self._sha256.update(chunk)
        self.size += len(chunk)
        return self

    def hexdigests(self) -> dict[str, str]:
        return {"md5": self._md5.hexdigest(), "sha256": self._sha256.hexdigest()}


def digest_bytes(data: bytes | bytearray | memoryview) -> dict[str, str]:
    """MD5 and SHA-256 of every byte of `data`."""
    return HashStream().update(data).hexdigests()
