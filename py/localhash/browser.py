"""The browser's entry into localhash, called by web/worker.js through Pyodide.

Bytes in, record out: the same record `python -m localhash hash` prints (without "file").
JavaScript typed arrays arrive as Pyodide JsProxy objects; `_as_bytes` copies them into Python.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from .decode import VIDEO_SNIFF_BYTES, video_format
from .digests import HashStream
from .errors import INTERNAL_ERROR, LocalhashError
from .record import hash_bytes, image_record, video_record


def _as_bytes(data) -> bytes:
    return data.to_bytes() if hasattr(data, "to_bytes") else bytes(data)


def sniff_video(head) -> str | None:
    """The video container named by a file's first bytes, or None for anything else."""
    return video_format(_as_bytes(head)[:VIDEO_SNIFF_BYTES])


def decoder_for(data) -> str:
    """ "browser" when the browser should decode this file's pixels (a colour or greyscale JPEG),
    else "pillow". CMYK JPEGs stay with Pillow: browsers convert CMYK with colour management,
    pdqhash's `convert("RGB")` does not."""
    try:
        with Image.open(io.BytesIO(_as_bytes(data)), formats=("JPEG",)) as image:
            return "browser" if image.mode in ("RGB", "L") else "pillow"
    except Exception:
        return "pillow"  # whatever is wrong, Pillow's decoder reports it as a typed error


def hash_image(data, dihedral: bool = False, mode: str = "full", rgba=None, width: int = 0, height: int = 0) -> dict:
    """Every hash of one image file's bytes; failures come back as typed error records.

    `rgba` (with width, height) are the browser's decoded pixels of a JPEG (see decoder_for).
    """
    data = _as_bytes(data)
    if rgba is None:
        return hash_bytes(data, dihedral=bool(dihedral), mode=str(mode))
    pixels = np.frombuffer(_as_bytes(rgba), dtype=np.uint8).reshape(int(height), int(width), 4)
    try:
        return image_record(data, dihedral=bool(dihedral), mode=str(mode), decoded_rgba=pixels)
    except LocalhashError as exc:
        return {"ok": False, "error": exc.as_record()}
    except ValueError:  # the browser's pixels do not fit the file: let Pillow decode it
        return hash_bytes(data, dihedral=bool(dihedral), mode=str(mode))
    except Exception as exc:  # a bug of ours: still one typed record
        return {"ok": False, "error": {"code": INTERNAL_ERROR, "message": f"unexpected {type(exc).__name__}"}}


def warm_up() -> None:
    """Hash a small generated picture once, so that the person's first file does not pay for
    lazy imports and first-call costs."""
    buffer = io.BytesIO()
    gradient = np.add.outer(np.arange(96, dtype=np.uint8), np.arange(128, dtype=np.uint8))
    Image.fromarray(np.stack([gradient] * 3, axis=-1)).save(buffer, "PNG")
    hash_bytes(buffer.getvalue(), dihedral=True)


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
