"""Matching two vPDQ hashes as Meta matches them (python-threatexchange extensions/vpdq), vectorised with numpy.

A video's vPDQ is a list of "hex,quality,timestamp" frames (VPDQSignal's signal string is that list in JSON).
Two videos match when, after dropping frames of quality under 50 and repeated hashes on each side, at least 80%
of the query's frames are within 31 bits of some frame of the other (and at least 0% the other way).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from .errors import INVALID_HASH, LocalhashError
from .hashtypes import PDQ
from .hexbits import hex_to_bytes_array
from .vpdq import VpdqFeature

# python-threatexchange extensions/vpdq/vpdq_util.py
VPDQ_DISTANCE_THRESHOLD = 31  # a frame matches a frame within 31 bits (PDQ's threshold)
VPDQ_QUALITY_THRESHOLD = 50  # frames of quality under 50 are not compared, on either side
VPDQ_QUERY_MATCH_THRESHOLD_PERCENT = 80.0  # share of the query's frames that must match
VPDQ_INDEX_MATCH_THRESHOLD_PERCENT = 0.0  # share of the other video's frames that must match


@dataclass(frozen=True)
class VpdqMatch:
    query_match_percent: float
    compared_match_percent: float

    def is_match(
        self,
        query_threshold: float = VPDQ_QUERY_MATCH_THRESHOLD_PERCENT,
        compared_threshold: float = VPDQ_INDEX_MATCH_THRESHOLD_PERCENT,
    ) -> bool:
        """VPDQSignal.compare_hash's verdict."""
        return self.query_match_percent >= query_threshold and self.compared_match_percent >= compared_threshold


def parse_feature(text: str, index: int = 0) -> VpdqFeature:
    """One "hex,quality,timestamp" (VpdqCompactFeature.from_str, strictly): a PDQ hex, a quality 0-100, a
    timestamp >= 0. The hex is normalised to lowercase."""
    parts = text.split(",") if isinstance(text, str) else []
    try:
        hex_, quality, timestamp = parts
        feature = VpdqFeature(PDQ.validate(hex_), int(quality), index, float(timestamp))
    except (ValueError, LocalhashError):
        feature = None
    if (
        feature is None
        or not 0 <= feature.quality <= 100
        or not feature.timestamp >= 0
        or math.isinf(feature.timestamp)
    ):
        raise LocalhashError(INVALID_HASH, f"a vPDQ frame must be 'hex,quality,timestamp', got {text!r:.100}")
    return feature


def parse_vpdq(value: str | list) -> list[VpdqFeature]:
    """A vPDQ hash: python-threatexchange's JSON list of "hex,quality,timestamp", or that list itself."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise LocalhashError(INVALID_HASH, "a vPDQ hash must be a JSON list of 'hex,quality,timestamp'") from None
    if not isinstance(value, list):
        raise LocalhashError(INVALID_HASH, "a vPDQ hash must be a JSON list of 'hex,quality,timestamp'")
    return [parse_feature(item, i) for i, item in enumerate(value)]


def _kept_hashes(features: list[VpdqFeature], quality_threshold: int) -> list[str]:
    """dedupe, then quality_filter (vpdq_brute_matcher.match_VPDQ_hash_brute): each distinct hash once, judged
    by its first occurrence's quality."""
    first: dict[str, int] = {}
    for f in features:
        first.setdefault(f.hash, f.quality)
    return [h for h, quality in first.items() if quality >= quality_threshold]


def _words(hashes: list[str]) -> np.ndarray:
    return hex_to_bytes_array(hashes, PDQ.bits // 8).view(np.uint64).reshape(len(hashes), 4)


def match_vpdq(
    query: list[VpdqFeature],
    compared: list[VpdqFeature],
    quality_threshold: int = VPDQ_QUALITY_THRESHOLD,
    distance_threshold: int = VPDQ_DISTANCE_THRESHOLD,
) -> VpdqMatch:
    """match_VPDQ_hash_brute: the share (percent) of each side's kept frames within the distance of a kept frame
    of the other. A side with no frame left has 0% (where python-threatexchange divides by zero)."""
    a, b = _kept_hashes(query, quality_threshold), _kept_hashes(compared, quality_threshold)
    if not a or not b:
        return VpdqMatch(0.0, 0.0)
    wa, wb = _words(a), _words(b)
    near = np.zeros((len(a), len(b)), bool)
    for start in range(0, len(a), 256):  # a block of query frames at a time: 256 x len(b) distances
        block = wa[start : start + 256, None, :] ^ wb[None, :, :]
        near[start : start + 256] = np.bitwise_count(block).sum(axis=2, dtype=np.int32) <= distance_threshold
    return VpdqMatch(int(near.any(axis=1).sum()) * 100 / len(a), int(near.any(axis=0).sum()) * 100 / len(b))
