"""PDQ equals Meta's pdqhash on random pixels of random shapes, including the awkward small ones."""

import numpy as np
import pdqhash
from hypothesis import example, given, settings
from hypothesis import strategies as st

from localhash import jarosz
from localhash.decode import apply_orientation
from localhash.pdq import PdqStream, pdq_hash


def reference_hex(bits) -> str:
    return format(int("".join(str(int(b)) for b in bits), 2), "064x")


@settings(max_examples=120, deadline=None)
@given(
    rows=st.integers(5, 700),
    cols=st.integers(5, 700),
    seed=st.integers(0, 2**32 - 1),
    smooth=st.booleans(),
)
@example(rows=64, cols=64, seed=1, smooth=True)  # the reference's no-filter shortcut (compute only)
@example(rows=5, cols=5, seed=2, smooth=False)  # the smallest hashable image
@example(rows=63, cols=700, seed=3, smooth=True)  # fewer rows than samples: repeated sample rows
def test_pdq_and_dihedral_match_pdqhash_for_any_shape(rows, cols, seed, smooth):
    rng = np.random.default_rng(seed)
    if smooth:  # photo-like: structure the hash can see, so the quality is high
        y, x = np.mgrid[0:rows, 0:cols]
        base = 128 + 100 * np.sin(x / rng.uniform(3, 40) + y / rng.uniform(3, 40))
        pixels = np.clip(base[..., None] + rng.normal(0, 20, (rows, cols, 3)), 0, 255).astype(np.uint8)
    else:
        pixels = rng.integers(0, 256, (rows, cols, 3), dtype=np.uint8)
    ours = pdq_hash(pixels, dihedral=True)
    bits, quality = pdqhash.compute(pixels)
    variants, _ = pdqhash.compute_dihedral(pixels)
    assert (ours.hash, ours.quality) == (reference_hex(bits), quality)
    assert list(ours.dihedral.values()) == [reference_hex(v) for v in variants]


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(5, 300),
    cols=st.integers(5, 300),
    orientation=st.integers(1, 8),
    strip_rows=st.integers(1, 300),
    seed=st.integers(0, 2**32 - 1),
)
@example(rows=64, cols=64, orientation=6, strip_rows=7, seed=4)  # the no-filter shortcut, turned
@example(rows=300, cols=40, orientation=7, strip_rows=1, seed=5)  # one row per strip
def test_pdq_of_a_picture_fed_in_strips_and_turned_matches_pdqhash_of_the_turned_pixels(
    rows, cols, orientation, strip_rows, seed
):
    """PdqStream (the browser's strips, an EXIF-turned photo's pdq_oriented) against pdqhash of the pixels
    actually turned: any strip height, every orientation, both sweep directions."""
    pixels = np.random.default_rng(seed).integers(0, 256, (rows, cols, 3), dtype=np.uint8)
    stream = PdqStream(rows, cols, orientation)
    tops = range(0, rows, strip_rows)
    for top in reversed(tops) if stream.bottom_up else tops:
        stream.feed(pixels[top : top + strip_rows])
    ours = stream.result(dihedral=True)
    turned = np.ascontiguousarray(apply_orientation(pixels, orientation))
    bits, quality = pdqhash.compute(turned)
    variants, _ = pdqhash.compute_dihedral(turned)
    assert (ours.hash, ours.quality) == (reference_hex(bits), quality)
    assert list(ours.dihedral.values()) == [reference_hex(v) for v in variants]


@settings(max_examples=40, deadline=None)
@given(
    shapes=st.lists(
        st.tuples(st.sampled_from([5, 9, 63, 64, 65, 130, 300]), st.sampled_from([5, 9, 63, 64, 65, 130, 300])),
        min_size=1,
        max_size=9,
    ),
    banded=st.lists(
        st.tuples(st.integers(0, 8), st.sampled_from(["zeros", "same", "upside down", "mirrored", "turned"]))
    ),
    batch_pixels=st.sampled_from([1, 20_000, 1 << 22]),
    seed=st.integers(0, 2**32 - 1),
)
def test_planes_filtered_together_equal_each_plane_filtered_alone(shapes, banded, batch_pixels, seed):
    """jarosz.filter_and_decimate_many is bit for bit filter_and_decimate of each plane, however the planes
    share lengths and batches (few sizes, so that many share a side; batches of one plane up to all) and
    whatever rows they share: planes given as bands of another plane's rows (the same, upside down, mirrored
    or turned: the same memory read another way) and bands of broadcast zeros, as variants.py gives bars."""
    rng = np.random.default_rng(seed)
    planes = [(rng.random(shape) * 255).astype(np.float32) for shape in shapes]
    planes[0][: len(planes[0]) // 3] = 0  # rows of zeros, in memory
    for index, how in banded:
        source = planes[index % len(shapes)]
        if how == "turned":  # a square's rows and its columns: the first row and column start at one address
            side = min(source.shape)
            source = source[:side, :side]
        inner = {"upside down": source[::-1], "mirrored": source[:, ::-1], "turned": source.T}.get(how, source)
        rows = int(rng.integers(0, 70))
        zeros = np.broadcast_to(np.zeros((1, inner.shape[1]), np.float32), (rows, inner.shape[1]))
        planes.append([zeros, inner, zeros[:3]] if how == "zeros" else [source[1:4], zeros, inner])
    together = jarosz.filter_and_decimate_many(planes, batch_pixels)
    for plane, block in zip(planes, together, strict=True):
        whole = np.concatenate(plane) if isinstance(plane, list) else plane
        assert block.dtype == np.float32 and block.shape == (64, 64)
        assert np.array_equal(block.view(np.uint32), jarosz.filter_and_decimate(whole).view(np.uint32))
