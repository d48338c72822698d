"""The browser's entry into localhash, called by web/worker.js through Pyodide.

Bytes in, record out: the same record `python -m localhash hash` prints (without "file").
JavaScript typed arrays arrive as Pyodide JsProxy objects; `_as_bytes` copies them into Python.
"""

from __future__ import annotations

from .decode import VIDEO_SNIFF_BYTES, video_format
from .digests import HashStream
from .record import hash_bytes, video_record


def _as_bytes(data) -> bytes:
    return data.to_bytes() if hasattr(data, "to_bytes") else bytes(data)


def sniff_video(head) -> str | None:
    """The video container named by a file's first bytes, or None for anything else."""
    return video_format(_as_bytes(head)[:VIDEO_SNIFF_BYTES])


def hash_image(data, dihedral: bool = False, mode: str = "full") -> dict:
    """Every hash of one image file's bytes; failures come back as typed error records."""
    return hash_bytes(_as_bytes(data), dihedral=bool(dihedral), mode=str(mode))


class VideoHasher:
    """MD5 + SHA-256 of a video fed chunk by chunk (the worker reads it with File.slice)."""

    def __init__(self, container: str) -> None:
        self.container = container
        self.stream = HashStream()

    def update(self, chunk) -> int:
        self.stream.update(_as_bytes(chunk))
        return self.stream.size

    def record(self) -> dict:
        return video_record(self.container, self.stream.hexdigests())
