"""localhash.browser: given the same JPEG pixels another decoder produced, the record equals the native one."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from localhash import browser, hash_bytes, record, strips
from localhash.errors import LocalhashError
from tests.conftest import PDQ_IMAGES, jpeg_with_orientation, native_fields, require_corpus


def jpeg(image: Image.Image, **extra) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, **extra)
    return buffer.getvalue()


def generated() -> dict[str, bytes]:
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:200, 0:310]
    base = np.stack([128 + 90 * np.sin(x / (13 + 5 * c) + y / (21 - 3 * c)) for c in range(3)], axis=-1)
    rgb = Image.fromarray(np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8))
    files = {"colour": jpeg(rgb), "grey": jpeg(rgb.convert("L"))}
    for orientation in (3, 6, 8):  # PDQ's sweeps: from the bottom (3, 6), of mirrored rows (3, 8), turned (6, 8)
        files[f"exif-{orientation}"] = jpeg_with_orientation(rgb, orientation)
    return files


# A strip of 13 rows (the pictures above are 310 px wide): 16 strips, so that every row of the pipeline
# crosses strips; None: the default, one strip for these small pictures.
STRIP_SIZES = [None, 310 * 13]


def hash_as_the_worker_does(
    data: bytes, rgba: np.ndarray, dihedral: bool = False, mode: str = "full", strip_pixels: int | None = None
) -> tuple[dict, list[int]]:
    """JpegJob, then the pixels copied strip by strip, or Pillow when they do not fit (web/worker.js).
    Also returns the first row of every strip asked for, in order."""
    job = browser.JpegJob(data, dihedral, mode, **({"strip_pixels": strip_pixels} if strip_pixels else {}))
    if job.error:
        return job.error, []
    if not job.begin(rgba.shape[1], rgba.shape[0]):
        return job.record_without_pixels("wrong_size", "the browser decoded the picture at another size"), []
    asked = []
    while (top := job.next_strip()) >= 0:
        job.strip[...] = rgba[top : top + len(job.strip)]
        asked.append(top)
    return job.record(), asked


def rgba_as_a_browser_gives_it(data: bytes) -> np.ndarray:
    """What getImageData returns: RGBA, stored orientation, alpha 255."""
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=-1)


@pytest.mark.parametrize("strip_pixels", STRIP_SIZES)
@pytest.mark.parametrize("mode", ["full", "reference-cli"])
@pytest.mark.parametrize("dihedral", [False, True])
def test_browser_pixels_give_the_native_record(mode, dihedral, strip_pixels):
    require_corpus()
    files = generated() | {"corpus": (PDQ_IMAGES / "reg-test-input/labelme-subset/q0122.jpg").read_bytes()}
    for name, data in files.items():
        rgba = rgba_as_a_browser_gives_it(data)
        ours, _ = hash_as_the_worker_does(data, rgba, dihedral, mode, strip_pixels)
        assert ours["decoded_by"] == "browser" and ours["pixel_check"]["passed"], name
        assert native_fields(ours) == hash_bytes(data, dihedral=dihedral, mode=mode), name


def test_strips_are_asked_for_from_the_top_then_from_the_bottom_for_a_picture_turned_upside_down():
    files = generated()
    tops = list(range(0, 200, 13))
    for name, second in [("colour", []), ("exif-8", []), ("exif-3", tops[::-1]), ("exif-6", tops[::-1])]:
        ours, asked = hash_as_the_worker_does(
            files[name], rgba_as_a_browser_gives_it(files[name]), strip_pixels=310 * 13
        )
        assert ours["ok"] and asked == tops + second, name


@pytest.mark.parametrize("fault", ["lower_part_missing", "one_strip_swapped"])
def test_a_strip_that_is_not_the_picture_sends_pillows_hash(fault):
    """A copy that fails for part of the picture only (a strip left black, one strip's channels swapped)."""
    data = generated()["colour"]
    rgba = rgba_as_a_browser_gives_it(data).copy()
    if fault == "lower_part_missing":
        rgba[104:, :, :3] = 0
    else:
        rgba[52:104, :, :3] = rgba[52:104, :, 2::-1].copy()
    ours, _ = hash_as_the_worker_does(data, rgba, strip_pixels=310 * 13)
    assert ours["decoded_by"] == "pillow" and not ours["pixel_check"]["passed"]
    assert native_fields(ours) == hash_bytes(data)


def test_pixels_of_the_wrong_size_fall_back_to_pillow():
    data = generated()["exif-6"]
    rotated = np.ascontiguousarray(np.rot90(rgba_as_a_browser_gives_it(data)))  # a browser that applied EXIF
    ours, _ = hash_as_the_worker_does(data, rotated)
    assert ours["decoded_by"] == "pillow" and ours["pixel_check"]["code"] == "wrong_size"
    assert native_fields(ours) == hash_bytes(data)


def test_a_damaged_jpeg_gets_its_typed_error_before_any_pixels():
    data = generated()["colour"]
    job = browser.JpegJob(data[: len(data) // 2])
    assert job.error == hash_bytes(data[: len(data) // 2]) and job.error["error"]["code"] == "corrupt_image"


def test_decoder_choice():
    files = generated()
    assert browser.decoder_for(files["colour"]) == "browser"
    assert browser.decoder_for(files["grey"]) == "browser"
    cmyk = jpeg(Image.new("CMYK", (40, 40), (10, 20, 30, 40)))
    assert browser.decoder_for(cmyk) == "pillow"
    assert browser.decoder_for(b"\x89PNG\r\n\x1a\n") == "pillow"


def test_a_failed_check_on_a_picture_too_large_to_decode_whole_is_a_typed_error():
    """In the browser, Pillow may not decode a picture above decode.WHOLE_DECODE_MAX_PIXELS in place of
    the browser's pixels that failed the check: the file gets too_large, saying both, never a wrong hash."""
    data = generated()["colour"]
    prepared = record.prepare_image(data, pixels_from_elsewhere=True)
    black = np.zeros((200, 310, 4), np.uint8)
    found = strips.hash_array(black, record.strip_sweep(prepared))
    assert not found.check.passed
    with pytest.raises(LocalhashError) as failed:
        record.strips_record(prepared, found, 310 * 199)
    assert failed.value.code == "too_large"
    assert "failed its check" in failed.value.message and "310x200" in failed.value.message
    assert native_fields(record.strips_record(prepared, found, 310 * 200)) == hash_bytes(data)
