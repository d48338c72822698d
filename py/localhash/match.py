"""The platform side: Hamming search of a bank of PDQ hashes, vectorised with numpy popcount."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .errors import INVALID_HASH, LocalhashError
from .hashtypes import PDQ, PDQ_MATCH_THRESHOLD
from .hexbits import hex_to_bytes_array
from .pdq import DIHEDRAL_NAMES
from .variants import VARIANT_NAMES
from .vpdq_match import parse_vpdq

# What a bank line may say its hash is, after the hash: the picture itself, as people see it, a dihedral
# transform, or an app's re-framing (variants.py). Any other second column (ThreatExchange's lists carry
# quality or ids there) is not a kind.
KINDS = frozenset({"original", "oriented"} | set(DIHEDRAL_NAMES) | set(VARIANT_NAMES))


def _as_words(matrix: np.ndarray) -> np.ndarray:
    """(n, 32) bytes to (4, n) uint64: word k of every hash contiguous, so each XOR/popcount
    runs over one contiguous array. Byte order is irrelevant to XOR and popcount."""
    return np.ascontiguousarray(np.ascontiguousarray(matrix).view(np.uint64).T)


@dataclass(frozen=True)
class Bank:
    """PDQ hashes as a (4, n) uint64 matrix (see _as_words); `hashes[i]` spells column i, and `kinds` says
    what the bank file said each hash is (KINDS), where it said so."""

    hashes: list[str]
    matrix: np.ndarray
    kinds: dict[str, str] = field(default_factory=dict)  # hash -> kind, for lines that name one
    videos: list[tuple[int, list]] = field(default_factory=list)  # (line number, vPDQ features) of video lines

    @classmethod
    def from_hex(cls, values: Iterable[str]) -> Bank:
        return cls._from_canonical([PDQ.validate(v) for v in values])

    @classmethod
    def _from_canonical(cls, canonical: list[str]) -> Bank:
        return cls(canonical, _as_words(hex_to_bytes_array(canonical, PDQ.bits // 8)))

    @classmethod
    def from_file(cls, path: str) -> Bank:
        """One hex hash per line; blank lines and `#` comments are skipped; a bad line is named."""
        values, kinds, videos = [], {}, []
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if line.lstrip().startswith("["):  # a video's vPDQ: python-threatexchange's JSON list
                    try:
                        videos.append((number, parse_vpdq(line)))
                    except LocalhashError as exc:
                        raise LocalhashError(INVALID_HASH, f"{path}:{number}: {exc.message}") from None
                    continue
                text = line.split("#", 1)[0].strip()
                if not text:
                    continue
                # Upstream hash lists (e.g. ThreatExchange's haystack.txt) may carry extra
                # comma- or space-separated columns after the hash.
                columns = text.replace(",", " ").split()
                try:
                    values.append(PDQ.validate(columns[0]))
                except LocalhashError as exc:
                    raise LocalhashError(INVALID_HASH, f"{path}:{number}: {exc.message}") from None
                if len(columns) > 1 and columns[1] in KINDS:
                    kinds.setdefault(values[-1], columns[1])
        bank = cls._from_canonical(values)
        bank.kinds.update(kinds)
        bank.videos.extend(videos)
        return bank

    def __len__(self) -> int:
        return len(self.hashes)

    def distances(self, query: str) -> np.ndarray:
        """Hamming distance from `query` to every bank hash."""
        q = np.frombuffer(bytes.fromhex(PDQ.validate(query)), dtype=np.uint64)
        total = np.zeros(self.matrix.shape[1], np.uint16)
        for word, query_word in zip(self.matrix, q, strict=True):
            total += np.bitwise_count(word ^ query_word)
        return total

    def search(self, query: str, threshold: int = PDQ_MATCH_THRESHOLD) -> list[tuple[str, int]]:
        """Every bank hash within `threshold` bits of `query`, nearest first."""
        d = self.distances(query)
        hits = np.flatnonzero(d <= threshold)
        hits = hits[np.argsort(d[hits], kind="stable")]
        return [(self.hashes[i], int(d[i])) for i in hits]
