"""Variants (variants.py): the working copy, the frames, the browser's strips making the same variants as the
native whole picture, and what they are for: a picture an app re-framed, hashed by Meta's pdqhash, lands near
its variant and far from the picture's own PDQ."""

from __future__ import annotations

import io
import json

import numpy as np
import pdqhash
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFilter, ImageOps

from localhash import browser, hash_bytes
from localhash.cli import main
from localhash.decode import apply_orientation
from localhash.hexbits import hamming_hex
from localhash.pdq import pdq_hash
from localhash.variants import (
    FRAMES,
    TURNS,
    VARIANT_NAMES,
    WORKING_SIDE,
    WorkingCopy,
    framed,
    pdq_copies,
    working_copy,
)
from tests.conftest import PDQ_IMAGES, jpeg_with_orientation, require_corpus

from .test_pdq_conformance import threatexchange_hex

# Photos of the corpus over 1000 px a side: what an app re-frames (Meta's bridge photos, EXIF-turned ones).
PHOTOS = (
    "bridge-mods/blur-a-little.jpg",
    "reg-test-input/exif-rotn/exif-rotn-6.jpg",
    "pytx-resources/letterboxed_sample-b.jpg",
)


def block_means(pixels: np.ndarray, factor: int) -> np.ndarray:
    """Each factor x factor block's mean (the pixels there are at the edges), rounded half up, in float64."""
    rows, cols = pixels.shape[:2]
    out = np.empty((-(-rows // factor), -(-cols // factor), 3))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            block = pixels[i * factor : (i + 1) * factor, j * factor : (j + 1) * factor, :3]
            out[i, j] = block.reshape(-1, 3).mean(axis=0)
    return np.floor(out + 0.5).astype(np.uint8)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 90),
    cols=st.integers(1, 90),
    factor=st.integers(1, 7),
    heights=st.lists(st.integers(1, 40), min_size=1, max_size=8),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_working_copy_fed_in_any_strips_is_the_block_means(rows, cols, factor, heights, seed):
    pixels = np.random.default_rng(seed).integers(0, 256, (rows, cols, 4), dtype=np.uint8)
    copy = WorkingCopy(rows, cols)
    copy.factor = factor  # the factor for a picture of this size is 1; any factor must hold
    copy._out = np.empty((-(-rows // factor), -(-cols // factor), 3), np.uint8)
    top, turn = 0, 0
    while top < rows:
        height = heights[turn % len(heights)]
        copy.feed(pixels[top : top + height])
        top, turn = top + height, turn + 1
    assert np.array_equal(copy.picture(), block_means(pixels, factor))


def test_the_working_copy_is_at_most_working_side_and_turned():
    pixels = np.random.default_rng(1).integers(0, 256, (3000, 4000, 3), dtype=np.uint8)
    work = working_copy(pixels, orientation=6)
    assert work.shape == (800, 600, 3) and max(work.shape) <= WORKING_SIDE  # 4000 px: / 5, not / 4 (1000 px)
    assert working_copy(pixels[:1500, :1500]).shape == (750, 750, 3)  # under 800 px only when no factor keeps it above
    assert working_copy(pixels[:900, :1000]).shape == (900, 1000, 3)
    assert np.array_equal(work, np.rot90(working_copy(pixels), -1))


def test_frames_fit_with_bars_on_two_sides_crop_at_the_centre_and_skip_the_pictures_own_shape():
    picture = Image.fromarray(np.random.default_rng(2).integers(1, 256, (600, 800, 3), dtype=np.uint8))
    by_name = {frame.name: frame for frame in FRAMES}
    square = framed(picture, by_name["fit_1x1_bars"])
    assert square.size == (800, 800)
    bars = np.asarray(square)
    assert not bars[:100].any() and not bars[700:].any() and bars[100:700].all()  # top and bottom only
    assert np.array_equal(np.asarray(framed(picture, by_name["fill_1x1"])), np.asarray(picture)[:, 100:700])
    blurred = np.asarray(framed(picture, by_name["fit_9x16_blur"]))
    assert blurred.shape == (1422, 800, 3) and blurred[:300].any()  # a background, not bars
    assert framed(picture.resize((800, 640)), by_name["fit_4x5_bars"]) is not None
    assert framed(picture.resize((800, 1000)), by_name["fit_4x5_bars"]) is None  # already 4:5
    assert framed(picture.resize((808, 1000)), by_name["fill_4x5"]) is None  # within 2%
    assert set(VARIANT_NAMES) == {frame.name for frame in FRAMES} and len(VARIANT_NAMES) == 12


def test_no_variants_for_a_picture_below_quality_50():
    flat = Image.new("RGB", (640, 480), (120, 130, 140))
    data = io.BytesIO()
    flat.save(data, "PNG")
    record = hash_bytes(data.getvalue(), variants=True)
    assert record["pdq_quality"] < 50 and record["pdq_variants"] == {}
    assert "pdq_variants" not in hash_bytes(data.getvalue())


@pytest.mark.parametrize("orientation", [1, 6])
def test_the_browsers_strips_make_the_native_variants(orientation):
    require_corpus()
    picture = Image.open(PDQ_IMAGES / PHOTOS[0])
    data = jpeg_with_orientation(picture, orientation)
    native = hash_bytes(data, variants=True, dihedral=True)
    assert len(native["pdq_variants"]) == 12
    job = browser.JpegJob(data, True, "full", True, strip_pixels=picture.width * 100)
    rgba = np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))
    assert job.begin(rgba.shape[1], rgba.shape[0])
    while (top := job.next_strip()) >= 0:
        job.strip[...] = rgba[top : top + len(job.strip)]
    record = job.record()
    assert record.pop("decoded_by") == "browser" and record.pop("pixel_check")["passed"]
    assert record == native


def app_story(picture: Image.Image, background: str) -> Image.Image:
    """A 1080x1920 story as an app makes it: the photo fitted, with black bars or its own blurred enlargement."""
    width, height = 1080, 1920
    scale = min(width / picture.width, height / picture.height)
    photo = picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.LANCZOS)
    if background == "bars":
        story = Image.new("RGB", (width, height))
    else:
        cover = max(width / picture.width, height / picture.height)
        big = picture.resize((round(picture.width * cover) + 1, round(picture.height * cover) + 1), Image.BILINEAR)
        left, top = (big.width - width) // 2, (big.height - height) // 2
        story = big.crop((left, top, left + width, top + height)).filter(ImageFilter.GaussianBlur(48))
    story.paste(photo, ((width - photo.width) // 2, (height - photo.height) // 2))
    return story


def app_square(picture: Image.Image) -> Image.Image:
    side = min(picture.size)
    left, top = (picture.width - side) // 2, (picture.height - side) // 2
    return picture.crop((left, top, left + side, top + side)).resize((1080, 1080), Image.LANCZOS)


def reference_pdq(picture: Image.Image) -> str:
    return threatexchange_hex(pdqhash.compute(np.asarray(picture.convert("RGB")))[0])


def test_an_apps_reframing_lands_near_its_variant_and_far_from_the_original():
    """The edits apps make, at an app's size, hashed by Meta's pdqhash as a platform would: a story with bars
    (measured 0-8 bits from fit_9x16_bars), with a blurred background (4-22 at this blur), a square crop
    (4-10 from fill_1x1); the photo's own PDQ is 58-140 bits away from each (a match needs 31 or fewer)."""
    require_corpus()
    found = []
    for name in PHOTOS:
        data = (PDQ_IMAGES / name).read_bytes()
        record = hash_bytes(data, variants=True)
        seen = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
        original = record.get("pdq_oriented", record["pdq"])
        for edit, made, variant, limit in (
            ("story, bars", app_story(seen, "bars"), "fit_9x16_bars", 12),
            ("story, blurred", app_story(seen, "blur"), "fit_9x16_blur", 31),
            ("square crop", app_square(seen), "fill_1x1", 12),
        ):
            platform = reference_pdq(made)
            near, far = hamming_hex(platform, record["pdq_variants"][variant]["hash"]), hamming_hex(platform, original)
            found.append((name, edit, near, far))
            assert near <= limit < 31 < far or (limit == 31 and near <= 31 < far), found[-1]
    print(json.dumps(found))


def test_match_says_which_variant_of_the_bank_matched(tmp_path, capsys):
    require_corpus()
    photo = PDQ_IMAGES / PHOTOS[0]
    record = hash_bytes(photo.read_bytes(), variants=True)
    bank = tmp_path / "bank.txt"
    lines = [f"{record['pdq']} original"] + [f"{v['hash']} {name}" for name, v in record["pdq_variants"].items()]
    bank.write_text("\n".join(lines) + "\n")
    story = tmp_path / "story.jpg"
    app_story(Image.open(photo).convert("RGB"), "bars").save(story, quality=90)
    assert main(["match", "--bank", str(bank), str(story)]) == 0
    matches = json.loads(capsys.readouterr().out)["matches"]
    assert matches[0]["bank_kind"] == "fit_9x16_bars" and matches[0]["variant"] == "original"
    assert "original" not in {m.get("bank_kind") for m in matches}


def test_the_cli_adds_variants_when_asked(capsys):
    require_corpus()
    path = str(PDQ_IMAGES / PHOTOS[0])
    assert main(["hash", "--variants", path]) == 0
    variants = json.loads(capsys.readouterr().out)["pdq_variants"]
    assert set(variants) <= set(VARIANT_NAMES) and len(variants) == 12
    assert all(len(v["hash"]) == 64 and 0 <= v["quality"] <= 100 for v in variants.values())


def test_variants_from_the_working_copy_stay_near_variants_from_the_full_size_picture():
    """Why the working copy is 800-1024 px (WORKING_SIDE_MIN, WORKING_SIDE): measured on corpus photos, a variant
    made from it is a mean 3 bits (at most 8 here) from the same variant made from the full-size picture, as near
    as a photo's own PDQ at that size is to its full-size PDQ (mean 2.2, at most 12)."""
    require_corpus()
    apart = {}
    # working copies of 800 (1600 px / 2), 806 (a 12 MP phone photo, 4032 px / 5) and 1000 px (2000 / 2)
    for name in PHOTOS:
        picture = ImageOps.exif_transpose(Image.open(PDQ_IMAGES / name)).convert("RGB")
        record = hash_bytes((PDQ_IMAGES / name).read_bytes(), variants=True)
        for frame in FRAMES:
            full = reference_pdq(framed(picture, frame))
            apart[name, frame.name] = hamming_hex(full, record["pdq_variants"][frame.name]["hash"])
    for name in PHOTOS:
        print(name, sorted(bits for (photo, _), bits in apart.items() if photo == name))
        assert np.mean([bits for (photo, _), bits in apart.items() if photo == name]) <= 5
    assert max(apart.values()) <= 12


def test_turned_copies_are_hashed_from_turned_pixels_under_metas_dihedral_names():
    """pdq_turned[name] is near Meta's derived pdq_dihedral[name] on a 1600 px photo (the same copy), and
    nearer than it to the copy a platform hashes on a 256 px one, where derived hashes drift."""
    require_corpus()
    bridge = Image.open(PDQ_IMAGES / "reg-test-input/dih/bridge-1-original.jpg").convert("RGB")
    record = hash_bytes(
        (PDQ_IMAGES / "reg-test-input/dih/bridge-1-original.jpg").read_bytes(), dihedral=True, variants=True
    )
    assert set(record["pdq_turned"]) == set(record["pdq_dihedral"]) - {"original"}
    for name, turned in record["pdq_turned"].items():
        assert hamming_hex(turned["hash"], record["pdq_dihedral"][name]) <= 10, name
    # Meta's own turned copies of the photo: each is nearest the turned hash of its name
    for copy, name in (
        ("bridge-2-rotate-90.jpg", "rot90"),
        ("bridge-5-flipx.jpg", "flipx"),  # Meta's flipx turns the picture upside down
        ("bridge-6-flipy.jpg", "flipy"),  # and flipy mirrors it left to right
        ("bridge-7-flip-plus-1.jpg", "flipplus1"),
    ):
        platform = reference_pdq(Image.open(PDQ_IMAGES / "reg-test-input/dih" / copy))
        assert hamming_hex(platform, record["pdq_turned"][name]["hash"]) <= 10, copy
    small = io.BytesIO()
    bridge.resize((256, 161), Image.LANCZOS).save(small, "PNG")
    record = hash_bytes(small.getvalue(), dihedral=True, variants=True)
    seen = Image.open(small)
    apart = {}
    for name, orientation in (("flipy", Image.Transpose.FLIP_LEFT_RIGHT), ("rot90", Image.Transpose.ROTATE_90)):
        platform = reference_pdq(seen.transpose(orientation))
        apart[name] = (
            hamming_hex(platform, record["pdq_turned"][name]["hash"]),
            hamming_hex(platform, record["pdq_dihedral"][name]),
        )
    print(apart)
    assert all(turned <= 4 and turned <= derived for turned, derived in apart.values()), apart


def one_by_one(work: np.ndarray) -> tuple[dict, dict]:
    """pdq_variants and pdq_turned as they were first made: each framed or turned copy's RGB pixels hashed on
    their own by pdq_hash."""
    picture = Image.fromarray(work, "RGB")
    variants = {}
    for frame in FRAMES:
        pixels = framed(picture, frame)
        if pixels is not None:
            result = pdq_hash(np.asarray(pixels))
            variants[frame.name] = {"hash": result.hash, "quality": result.quality}
    turned = {}
    for name, orientation in TURNS.items():
        result = pdq_hash(np.ascontiguousarray(apply_orientation(work, orientation)))
        turned[name] = {"hash": result.hash, "quality": result.quality}
    return variants, turned


def test_the_copies_hashed_together_equal_each_copy_hashed_alone_on_corpus_photos():
    """pdq_copies composes every copy's luma from the working copy's and hashes them in shared Jarosz passes:
    bit for bit (hash and quality) what hashing each framed or turned picture alone gives, on landscape and
    portrait photos (an EXIF-turned one) and a small picture whose square fit is exactly 64x64 (PDQ's
    no-filter case)."""
    require_corpus()
    names = PHOTOS + ("reg-test-input/dih/bridge-1-original.jpg",)
    works = [
        working_copy(np.asarray(ImageOps.exif_transpose(Image.open(PDQ_IMAGES / name)).convert("RGB")))
        for name in names
    ]
    works.append(np.asarray(Image.open(PDQ_IMAGES / PHOTOS[0]).convert("RGB").resize((64, 41))))
    for work in works:
        variants, turned = pdq_copies(work, 100)
        assert (variants, turned) == one_by_one(work), work.shape
        assert len(turned) == 7 and len(variants) >= 11


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(5, 200), cols=st.integers(5, 200), seed=st.integers(0, 2**32 - 1))
def test_the_copies_hashed_together_equal_each_copy_hashed_alone_for_any_shape(rows, cols, seed):
    """The same on random pictures of any shape: frames of under 5 px fail alike, frames of 64x64 agree."""
    work = np.random.default_rng(seed).integers(0, 256, (rows, cols, 3), dtype=np.uint8)
    try:
        alone = one_by_one(work)
    except ValueError as error:
        with pytest.raises(ValueError, match=str(error)):
            pdq_copies(work, 100)
        return
    assert pdq_copies(work, 100) == alone
