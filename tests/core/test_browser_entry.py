"""localhash.browser: given the same JPEG pixels another decoder produced, the record equals the native one."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from localhash import browser, hash_bytes
from tests.conftest import PDQ_IMAGES, native_fields, require_corpus


def jpeg(image: Image.Image, **extra) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, **extra)
    return buffer.getvalue()


def generated() -> dict[str, bytes]:
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:200, 0:310]
    base = np.stack([128 + 90 * np.sin(x / (13 + 5 * c) + y / (21 - 3 * c)) for c in range(3)], axis=-1)
    rgb = Image.fromarray(np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    return {"colour": jpeg(rgb), "grey": jpeg(rgb.convert("L")), "exif-6": jpeg(rgb, exif=exif.tobytes())}


def hash_as_the_worker_does(data: bytes, rgba: np.ndarray, dihedral: bool = False, mode: str = "full") -> dict:
    """JpegJob, then the pixels copied into its buffer, or Pillow when they do not fit (web/worker.js)."""
    job = browser.JpegJob(data, dihedral, mode)
    if job.error:
        return job.error
    buffer = job.buffer(rgba.shape[1], rgba.shape[0])
    if buffer is None:
        return job.record_without_pixels("wrong_size", "the browser decoded the picture at another size")
    buffer[...] = rgba
    return job.record()


def rgba_as_a_browser_gives_it(data: bytes) -> np.ndarray:
    """What getImageData returns: RGBA, stored orientation, alpha 255."""
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=-1)


@pytest.mark.parametrize("mode", ["full", "reference-cli"])
@pytest.mark.parametrize("dihedral", [False, True])
def test_browser_pixels_give_the_native_record(mode, dihedral):
    require_corpus()
    files = generated() | {"corpus": (PDQ_IMAGES / "reg-test-input/labelme-subset/q0122.jpg").read_bytes()}
    for name, data in files.items():
        rgba = rgba_as_a_browser_gives_it(data)
        ours = hash_as_the_worker_does(data, rgba, dihedral, mode)
        assert ours["decoded_by"] == "browser" and ours["pixel_check"]["passed"], name
        assert native_fields(ours) == hash_bytes(data, dihedral=dihedral, mode=mode), name


def test_pixels_of_the_wrong_size_fall_back_to_pillow():
    data = generated()["exif-6"]
    rotated = np.ascontiguousarray(np.rot90(rgba_as_a_browser_gives_it(data)))  # a browser that applied EXIF
    ours = hash_as_the_worker_does(data, rotated)
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
