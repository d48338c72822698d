"""What an AVIF's boxes (ISO-BMFF, HEIF) say about its picture before any pixel is decoded: the primary
image's stored size, how it is turned, and how many frames an image sequence has.

The browser needs these where Pyodide has no AVIF decoder: the size refuses an oversized file before a
decoder allocates its pixels, and the turn lets libavif's decode (which leaves the pixels as stored) be
compared with the browser's (which turns them, as HEIF readers must). Natively pillow-avif reports the
same facts; tests/core/test_avif.py checks that both agree.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import CORRUPT_IMAGE, LocalhashError

# The EXIF orientation equal to HEIF's rotation (irot: quarter turns anticlockwise) followed by its
# mirror (imir), as pillow-avif maps them (its _avif.c irot_imir_to_exif_orientation, for libavif >= 1.0,
# whose imir axis 1 swaps left and right): {(quarter turns, mirror axis or None): orientation}.
_ORIENTATIONS = {
    (0, None): 1,
    (0, 1): 2,
    (0, 0): 4,
    (1, None): 8,
    (1, 1): 7,
    (1, 0): 5,
    (2, None): 3,
    (2, 1): 4,
    (2, 0): 2,
    (3, None): 6,
    (3, 1): 5,
    (3, 0): 7,
}


@dataclass(frozen=True)
class PictureBoxes:
    width: int  # the primary image's stored size (ispe), before it is turned
    height: int
    orientation: int  # EXIF orientation 1-8 equal to its irot and imir
    frames: int  # samples of an image sequence's picture track; 1 for a still picture

    @property
    def shown_size(self) -> tuple[int, int]:
        """(width, height) as people see it, turned."""
        return (self.height, self.width) if self.orientation >= 5 else (self.width, self.height)


def _damaged(what: str) -> LocalhashError:
    return LocalhashError(CORRUPT_IMAGE, f"the picture's header is damaged ({what})")


def _boxes(data: bytes, start: int, end: int):
    """(type, body start, body end) of each box in data[start:end]."""
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            if at + 16 > end:
                raise _damaged("a box is cut short")
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            raise _damaged(f"box {kind!r} runs past its container")
        yield kind, at + header, at + size
        at += size


def _children(data: bytes, start: int, end: int) -> dict[bytes, list[tuple[int, int]]]:
    found: dict[bytes, list[tuple[int, int]]] = {}
    for kind, body, stop in _boxes(data, start, end):
        found.setdefault(kind, []).append((body, stop))
    return found


def _uint(data: bytes, at: int, size: int, stop: int) -> int:
    if at + size > stop:
        raise _damaged("a box is cut short")
    return int.from_bytes(data[at : at + size], "big")


def _first_byte(data: bytes, box: tuple[int, int]) -> int:
    return _uint(data, box[0], 1, box[1])


def read_picture_boxes(data: bytes) -> PictureBoxes:
    """The primary image's facts from an AVIF's `meta` box (and a sequence's frame count from `moov`).
    Raises LocalhashError(corrupt_image) for boxes that cannot be read."""
    top = _children(data, 0, len(data))
    if b"meta" not in top:
        raise _damaged("no meta box")
    meta_start, meta_end = top[b"meta"][0]
    meta = _children(data, meta_start + 4, meta_end)  # meta is a FullBox: version and flags first
    if b"pitm" not in meta or b"iprp" not in meta:
        raise _damaged("no primary item or no item properties")
    pitm, pitm_end = meta[b"pitm"][0]
    primary = _uint(data, pitm + 4, 2 if data[pitm] == 0 else 4, pitm_end)
    properties = _item_properties(data, *meta[b"iprp"][0], primary)
    if b"ispe" not in properties:
        raise _damaged("the primary image has no size")
    ispe, ispe_end = properties[b"ispe"]  # a FullBox: version and flags, then width and height
    width, height = _uint(data, ispe + 4, 4, ispe_end), _uint(data, ispe + 8, 4, ispe_end)
    turns = _first_byte(data, properties[b"irot"]) & 3 if b"irot" in properties else 0
    axis = _first_byte(data, properties[b"imir"]) & 1 if b"imir" in properties else None
    frames = _sequence_frames(data, *top[b"moov"][0]) if b"moov" in top else 1
    return PictureBoxes(width, height, _ORIENTATIONS[turns, axis], frames)


def _item_properties(data: bytes, start: int, end: int, item: int) -> dict[bytes, tuple[int, int]]:
    """{property type: (body start, body end)} of the properties `ipma` associates with `item`."""
    iprp = _children(data, start, end)
    if b"ipco" not in iprp or b"ipma" not in iprp:
        raise _damaged("no item property container or associations")
    listed = [(kind, (body, stop)) for kind, body, stop in _boxes(data, *iprp[b"ipco"][0])]
    ipma, ipma_end = iprp[b"ipma"][0]
    version, flags = data[ipma], _uint(data, ipma + 1, 3, ipma_end)
    id_size, index_size = (2 if version < 1 else 4), (2 if flags & 1 else 1)
    at = ipma + 8
    for _ in range(_uint(data, ipma + 4, 4, ipma_end)):
        entry_item = _uint(data, at, id_size, ipma_end)
        count = _uint(data, at + id_size, 1, ipma_end)
        at += id_size + 1
        indices = [_uint(data, at + i * index_size, index_size, ipma_end) for i in range(count)]
        at += count * index_size
        if entry_item != item:
            continue
        mask = 0x7FFF if index_size == 2 else 0x7F  # the top bit says "essential"
        found = {}
        for index in indices:
            index &= mask
            if not 1 <= index <= len(listed):
                if index == 0:
                    continue  # 0: no property
                raise _damaged("an item property index is out of range")
            kind, body = listed[index - 1]
            found.setdefault(kind, body)
        return found
    raise _damaged("the primary image has no properties")


def _sequence_frames(data: bytes, start: int, end: int) -> int:
    """Samples in the first picture track (handler `pict`) of a sequence; 1 when there is none."""
    for kind, body, stop in _boxes(data, start, end):
        if kind != b"trak":
            continue
        media = _find(data, body, stop, (b"mdia",))
        if media is None:
            continue
        handler = _find(data, *media, (b"hdlr",))
        if handler is None or data[handler[0] + 8 : handler[0] + 12] != b"pict":
            continue
        sizes = _find(data, *media, (b"minf", b"stbl", b"stsz"))
        if sizes is not None:
            return max(1, _uint(data, sizes[0] + 8, 4, sizes[1]))
    return 1


def _find(data: bytes, start: int, end: int, path: tuple[bytes, ...]) -> tuple[int, int] | None:
    for kind, body, stop in _boxes(data, start, end):
        if kind == path[0]:
            return (body, stop) if len(path) == 1 else _find(data, body, stop, path[1:])
    return None
