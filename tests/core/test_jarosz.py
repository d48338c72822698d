"""jarosz.RunningBox, float for float against a line-at-a-time port of the reference's box1DFloat.

PDQ's tests compare hashes and qualities with pdqhash; this one compares the filter's every float32, so that
each of RunningBox's ways of doing the same arithmetic (numpy calls per step for wide planes, one
np.add.accumulate for narrow ones, outputs written then divided, or sampled) is held to the reference's
exact order of operations, whatever rows each push brings."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localhash import jarosz


def box1d_float(line: np.ndarray, window: int) -> np.ndarray:
    """ThreatExchange pdq/cpp/downscaling/downscaling.cpp box1DFloat, one float32 scalar at a time."""
    length = len(line)
    half = (window + 2) // 2
    phase1, phase2, phase3 = half - 1, window - half + 1, length - window
    out = np.empty(length, np.float32)
    total, size, right, left, o = np.float32(0), 0, 0, 0, 0
    for _ in range(phase1):
        total = np.float32(total + line[right])
        size += 1
        right += 1
    for _ in range(phase2):
        total = np.float32(total + line[right])
        size += 1
        out[o] = np.float32(total / np.float32(size))
        right, o = right + 1, o + 1
    for _ in range(phase3):
        total = np.float32(total + line[right])
        total = np.float32(total - line[left])
        out[o] = np.float32(total / np.float32(size))
        right, left, o = right + 1, left + 1, o + 1
    for _ in range(length - phase2 - phase3):
        total = np.float32(total - line[left])
        size -= 1
        out[o] = np.float32(total / np.float32(size))
        left, o = left + 1, o + 1
    return out


@pytest.mark.parametrize("narrow", [True, False], ids=["accumulate", "numpy calls per step"])
@settings(max_examples=60, deadline=None)
@given(
    length=st.integers(1, 300),
    width=st.integers(1, 12),
    window=st.integers(1, 300),
    sampled=st.booleans(),
    cuts=st.lists(st.integers(0, 300), max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_running_box_equals_box1dfloat_float_for_float(narrow, length, width, window, sampled, cuts, seed):
    window = min(window, length)
    rng = np.random.default_rng(seed)
    plane = (rng.random((length, width)) * 255).astype(np.float32)
    wanted = np.sort(rng.integers(0, length, int(rng.integers(1, 70)))) if sampled else None
    box = jarosz.RunningBox(length, window, width, wanted)
    threshold, jarosz.NARROW = jarosz.NARROW, (width if narrow else width - 1)
    try:
        pushed = np.concatenate([box.push(rows) for rows in np.split(plane, sorted(c % (length + 1) for c in cuts))])
    finally:
        jarosz.NARROW = threshold
    expected = np.stack([box1d_float(plane[:, j], window) for j in range(width)], axis=1)
    if sampled:
        expected = expected[wanted]
    assert pushed.shape == expected.shape
    assert np.array_equal(pushed.view(np.uint32), expected.view(np.uint32))  # bit for bit, signed zeros too
