"""Generated images in every mode, format, size and EXIF orientation hash exactly as pdqhash and imagehash do."""

from __future__ import annotations

import io

import imagehash
import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageOps

from localhash import PDQ_MIN_QUALITY, hash_bytes
from localhash.hexbits import hamming_hex
from tests.conftest import PDQ_IMAGES, require_corpus

MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "I;16", "I", "F")
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP")
DIHEDRAL_NAMES = ("original", "rot90", "rot180", "rot270", "flipx", "flipy", "flipplus1", "flipminus1")
EXIF_ORIENTATION = 0x0112
CLI_SIDE = 512  # Meta's CLI shrinks anything larger to 512x512 (pdq/cpp/io/pdqio.cpp)


# ---- building and encoding test pictures ----


def textured_rgb(width: int, height: int, seed: int) -> np.ndarray:
    """A smooth gradient with a few low-frequency waves and pixel noise: structured enough for
    meaningful hashes, busy enough that PDQ quality is 100."""
    rng = np.random.default_rng(seed)
    x = (np.arange(width) / width)[None, :]
    y = (np.arange(height) / height)[:, None]
    channels = []
    for _ in range(3):
        channel = 150 * (x * rng.uniform(-1, 1) + y * rng.uniform(-1, 1))
        for _ in range(4):
            fx, fy = rng.uniform(0.5, 3, 2)
            channel = channel + 40 * np.sin(2 * np.pi * (fx * x + fy * y) + rng.uniform(0, 2 * np.pi))
        channels.append(channel)
    pixels = np.stack(channels, axis=-1)
    pixels += 128 - pixels.mean() + rng.normal(0, 12, pixels.shape)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def image_in_mode(mode: str, width: int = 150, height: int = 110, seed: int = 1) -> Image.Image:
    """The textured picture in `mode`; alpha channels vary across the picture; 16-bit, 32-bit and
    float modes hold 0-255 values so that convert("RGB") keeps the detail (it clips above 255)."""
    rgb = Image.fromarray(textured_rgb(width, height, seed))
    grey = np.asarray(rgb.convert("L"))
    alpha = Image.fromarray(np.broadcast_to(np.linspace(40, 255, width), (height, width)).astype(np.uint8))
    if mode == "I;16":
        image = Image.fromarray(grey.astype(np.uint16))
    elif mode == "I":
        image = Image.fromarray(grey.astype(np.int32))
    elif mode == "F":
        image = Image.fromarray(grey.astype(np.float32))
    elif mode in ("LA", "PA", "RGBA"):
        image = (rgb.quantize(256) if mode == "PA" else rgb).convert(mode)
        image.putalpha(alpha)
    else:
        image = rgb.convert(mode)
    assert image.mode == mode
    return image


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def png(pixels: np.ndarray) -> bytes:
    return encode(Image.fromarray(pixels), "PNG")


def can_save(mode: str, fmt: str) -> bool:
    try:
        encode(image_in_mode(mode, 8, 8), fmt)
    except (OSError, ValueError, KeyError):
        return False
    return True


SAVABLE = [(mode, fmt) for mode in MODES for fmt in FORMATS if can_save(mode, fmt)]


# ---- what the references compute ----


def threatexchange_hex(bits) -> str:
    return "%064x" % int("".join(str(int(b)) for b in bits), 2)  # noqa: UP031  pytx spells it so, verbatim


def pdqhash_of(pixels: np.ndarray) -> tuple[str, int]:
    bits, quality = pdqhash.compute(np.ascontiguousarray(pixels))
    return threatexchange_hex(bits), quality


def pdqhash_dihedral_of(pixels: np.ndarray) -> tuple[dict[str, str], int]:
    vectors, quality = pdqhash.compute_dihedral(np.ascontiguousarray(pixels))
    return dict(zip(DIHEDRAL_NAMES, map(threatexchange_hex, vectors), strict=True)), quality


def reference(image: Image.Image) -> dict:
    """What python-threatexchange / HMA (pdqhash) and imagehash compute for a decoded image."""
    pdq, quality = pdqhash_of(np.asarray(image.convert("RGB")))
    return {
        "pdq": pdq,
        "pdq_quality": quality,
        "phash": str(imagehash.phash(image)),
        "dhash": str(imagehash.dhash(image)),
        "ahash": str(imagehash.average_hash(image)),
    }


def reopen(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def hashes_of(record: dict) -> dict:
    assert record["ok"], record
    return {key: record[key] for key in ("pdq", "pdq_quality", "phash", "dhash", "ahash")}


# ---- modes and formats ----


def test_savable_combinations_cover_every_mode_and_format():
    assert {mode for mode, _ in SAVABLE} == set(MODES)
    assert {fmt for _, fmt in SAVABLE} == set(FORMATS)
    assert len(SAVABLE) >= 45  # Pillow 10.2 writes 48 of the 66 pairs


@pytest.mark.parametrize("mode, fmt", SAVABLE, ids=[f"{m}-{f}" for m, f in SAVABLE])
def test_every_mode_in_every_format_hashes_as_the_references(mode, fmt):
    data = encode(image_in_mode(mode), fmt)
    record = hash_bytes(data)
    assert record["ok"], record
    assert (record["format"], record["width"], record["height"], record["frames"]) == (fmt, 150, 110, 1)
    expected = reference(reopen(data))
    assert hashes_of(record) == expected
    assert expected["pdq_quality"] >= PDQ_MIN_QUALITY  # the picture has detail: a blank one would prove little
    assert record["low_quality"] is False


def test_transparent_pixels_hash_as_the_colour_they_store():
    """Alpha is dropped, not composited, exactly as pdqhash on convert("RGB"): a fully transparent
    pixel counts with whatever colour it stores. Two PNGs that look identical on screen therefore
    hash apart, and neither hashes like the picture composited onto white."""
    visible = textured_rgb(160, 120, seed=11)
    alpha = np.full((120, 160, 1), 255, np.uint8)
    alpha[:, :80] = 0
    under_a, under_b = visible.copy(), visible.copy()
    under_b[:, :80] = textured_rgb(80, 120, seed=12)  # different colours behind the transparent half
    files = [png(np.concatenate([under, alpha], axis=-1)) for under in (under_a, under_b)]

    white = Image.new("RGBA", (160, 120), "white")
    shown = [np.asarray(Image.alpha_composite(white, reopen(f))) for f in files]
    assert np.array_equal(shown[0], shown[1])  # the same picture to a viewer

    records = [hash_bytes(f) for f in files]
    for data, record in zip(files, records, strict=True):
        assert hashes_of(record) == reference(reopen(data))
    assert records[0]["pdq"] != records[1]["pdq"]
    composited_pdq, _ = pdqhash_of(shown[0][:, :, :3])
    assert records[0]["pdq"] != composited_pdq


# ---- several frames ----


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "TIFF", "WEBP"])
def test_multi_frame_file_reports_frames_and_hashes_the_first(fmt):
    frames = [Image.fromarray(textured_rgb(120, 90, seed)) for seed in (21, 22, 23)]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:])
    record = hash_bytes(data)
    assert record["ok"], record
    assert (record["format"], record["frames"]) == (fmt, 3)

    decoded = reopen(data)
    first = np.asarray(decoded.convert("RGB"))
    decoded.seek(1)
    second = np.asarray(decoded.convert("RGB"))
    assert (record["pdq"], record["pdq_quality"]) == pdqhash_of(first)
    assert record["pdq"] != pdqhash_of(second)[0]
    assert hashes_of(record) == reference(reopen(data))


# ---- EXIF orientation ----


def with_orientation(fmt: str, orientation: int, seed: int = 31) -> bytes:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    return encode(Image.fromarray(textured_rgb(150, 100, seed)), fmt, exif=exif)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_orientation_adds_the_hash_of_what_a_viewer_shows(fmt, orientation):
    data = with_orientation(fmt, orientation)
    stored = reopen(data)
    assert stored.getexif()[EXIF_ORIENTATION] == orientation  # the tag survived encoding
    record = hash_bytes(data)
    assert hashes_of(record) == reference(stored)  # like the reference: stored pixels, EXIF ignored
    if orientation == 1:
        assert "pdq_oriented" not in record
    else:
        shown = ImageOps.exif_transpose(reopen(data))
        assert record["pdq_oriented"] == pdqhash_of(np.asarray(shown.convert("RGB")))[0]
        assert record["pdq_oriented"] != record["pdq"]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_tiff_orientation_is_applied_once(orientation):
    """Pillow's TIFF loader itself rotates the pixels by the orientation tag and drops the tag, so the
    reference already hashes the picture as shown; localhash must not rotate it a second time."""
    data = with_orientation("TIFF", orientation)
    record = hash_bytes(data)
    assert hashes_of(record) == reference(reopen(data))
    assert "pdq_oriented" not in record


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_width_and_height_describe_the_hashed_pixels(fmt, orientation):
    decoded = reopen(data := with_orientation(fmt, orientation))
    decoded.load()  # TIFF: Pillow rotates on load, so this is the size of what gets hashed
    record = hash_bytes(data)
    assert (record["width"], record["height"]) == decoded.size


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["exif-rotn-1.jpg", "exif-rotn-3.jpg", "exif-rotn-6.jpg", "exif-rotn-8.jpg"])
def test_camera_photo_orientation_matches_exif_transpose(name):
    require_corpus()
    data = (PDQ_IMAGES / "reg-test-input" / "exif-rotn" / name).read_bytes()
    orientation = reopen(data).getexif().get(EXIF_ORIENTATION, 1)
    assert orientation == int(name[-5])  # the file is named after its tag
    record = hash_bytes(data)
    if orientation == 1:
        assert "pdq_oriented" not in record
    else:
        shown = ImageOps.exif_transpose(reopen(data)).convert("RGB")
        assert record["pdq_oriented"] == pdqhash_of(np.asarray(shown))[0]


# ---- sizes ----


@pytest.mark.parametrize(
    "width, height", [(5, 5), (5, 400), (400, 5), (127, 129), (129, 127), (63, 65), (65, 64), (511, 7)]
)
def test_small_and_odd_sizes_hash_as_pdqhash(width, height):
    pixels = textured_rgb(width, height, seed=width * 1000 + height)
    record = hash_bytes(png(pixels), dihedral=True)
    assert record["ok"], record
    assert (record["width"], record["height"]) == (width, height)
    assert (record["pdq"], record["pdq_quality"]) == pdqhash_of(pixels)
    assert record["pdq_dihedral"] == pdqhash_dihedral_of(pixels)[0]


@pytest.mark.parametrize("width, height", [(4, 100), (100, 4), (4, 4), (1, 100), (100, 1), (1, 1)])
def test_sides_under_5_px_are_too_small(width, height):
    record = hash_bytes(png(textured_rgb(width, height, seed=5)))
    assert record["ok"] is False
    assert record["error"]["code"] == "too_small"


def vertical_stripes_64() -> np.ndarray:
    """64x64 columns of random colour: every DCT row but the first is rounding noise, so the tiny
    float differences between filtering and not filtering flip many bits."""
    rng = np.random.default_rng(0)
    return np.repeat(rng.integers(0, 256, (1, 64, 3), dtype=np.uint8), 64, axis=0)


def test_exactly_64x64_follows_both_pdqhash_entry_points():
    """pdqhash.compute skips the Jarosz filter for an exactly 64x64 picture (pdqFloat256FromFloatLuma);
    compute_dihedral has no such shortcut. `pdq` follows compute, `pdq_dihedral` follows compute_dihedral."""
    pixels = vertical_stripes_64()
    compute = pdqhash_of(pixels)
    dihedral, dihedral_quality = pdqhash_dihedral_of(pixels)
    assert hamming_hex(compute[0], dihedral["original"]) > 16  # the shortcut matters for this picture

    plain = hash_bytes(png(pixels))
    with_dihedral = hash_bytes(png(pixels), dihedral=True)
    assert (plain["pdq"], plain["pdq_quality"]) == compute
    assert with_dihedral["pdq_dihedral"] == dihedral
    assert (with_dihedral["pdq"], with_dihedral["pdq_quality"]) == compute


@pytest.mark.parametrize("pixels", [vertical_stripes_64(), textured_rgb(150, 110, 2)], ids=["64x64", "150x110"])
def test_asking_for_dihedral_only_adds_pdq_dihedral(pixels):
    plain = hash_bytes(png(pixels))
    with_dihedral = hash_bytes(png(pixels), dihedral=True)
    assert set(with_dihedral) - set(plain) == {"pdq_dihedral"}
    assert {k: v for k, v in with_dihedral.items() if k != "pdq_dihedral"} == plain


def test_large_photo_hashes_as_pdqhash():
    small = Image.fromarray(textured_rgb(300, 400, seed=41))
    large = small.resize((3000, 4000), Image.Resampling.BICUBIC)
    data = encode(large, "JPEG", quality=90)
    record = hash_bytes(data)
    assert (record["width"], record["height"]) == (3000, 4000)
    assert hashes_of(record) == reference(reopen(data))


# ---- reference-cli mode ----


def nearest_512(pixels: np.ndarray) -> np.ndarray:
    """CImg's nearest-neighbour resize to 512x512 (aspect ratio ignored): source index floor(dst * n / 512)."""
    rows = [dst * pixels.shape[0] // CLI_SIDE for dst in range(CLI_SIDE)]
    cols = [dst * pixels.shape[1] // CLI_SIDE for dst in range(CLI_SIDE)]
    return pixels[np.ix_(rows, cols)]


# Meta's CLI computes luma in float32 (0.299f * R + ...), pdqhash in float64 rounded to float32, so the
# luma planes can differ by an ulp. Across 80 generated pictures (seeds 0-19 at four sizes over 512 px)
# that never changed a bit or the quality, so the pdqhash of the resized pixels is asserted exactly.
@pytest.mark.parametrize("width, height", [(700, 1000), (1300, 600), (513, 300), (900, 512)])
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_reference_cli_mode_hashes_a_nearest_neighbour_512_square(width, height, mode):
    image = Image.fromarray(textured_rgb(width, height, seed=width + height)).convert(mode)
    pixels = np.asarray(image.convert("RGB"))
    expected = pdqhash_of(nearest_512(pixels))
    assert expected[0] != pdqhash_of(pixels)[0]  # the resize matters for this picture
    record = hash_bytes(encode(image, "PNG"), mode="reference-cli")
    assert (record["width"], record["height"]) == (width, height)
    assert (record["pdq"], record["pdq_quality"]) == expected


@pytest.mark.parametrize("width, height", [(400, 300), (512, 512), (64, 512)])
def test_reference_cli_mode_leaves_pictures_up_to_512_px_alone(width, height):
    pixels = textured_rgb(width, height, seed=3)
    record = hash_bytes(png(pixels), mode="reference-cli")
    assert (record["pdq"], record["pdq_quality"]) == pdqhash_of(pixels)
