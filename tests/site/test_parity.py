"""The browser gives the record the native CLI gives: every field for non-JPEG files, PDQ within bounds for JPEG."""

from __future__ import annotations

import base64
import io
from collections import Counter

import numpy as np
import pdqhash
import pytest
from PIL import Image

from localhash import hash_bytes
from tests.conftest import PDQ_IMAGES, corpus_images, jpeg_with_orientation, require_corpus
from tests.site.conftest import hash_in_page

JPEG_SUFFIXES = (".jpg", ".jpeg")


def pdqhash_hex(data: bytes) -> str:
    bits, _ = pdqhash.compute(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    return format(int("".join(str(int(b)) for b in bits), 2), "064x")


def generated_images() -> dict[str, bytes]:
    """Formats and modes the corpus lacks, made here with fixed seeds."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:300, 0:420]
    base = np.stack([128 + 100 * np.sin(x / (20 + 7 * c) + y / (31 - 5 * c)) for c in range(3)], axis=-1)
    rgb = Image.fromarray(np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8))
    out = {}
    for name, image, fmt, extra in [
        ("rgb.webp", rgb, "WEBP", {"lossless": True}),
        ("rgb.tiff", rgb, "TIFF", {}),
        ("rgb.bmp", rgb, "BMP", {}),
        ("l.png", rgb.convert("L"), "PNG", {}),
        ("p.gif", rgb.convert("P"), "GIF", {}),
        ("rgba.png", rgb.convert("RGBA"), "PNG", {}),
        ("i16.png", rgb.convert("L").convert("I;16"), "PNG", {}),
        ("cmyk.jpg", rgb.convert("CMYK"), "JPEG", {"quality": 92}),
        ("grey.jpg", rgb.convert("L"), "JPEG", {"quality": 92}),
    ]:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **extra)
        out[name] = buffer.getvalue()
    frames = [rgb.rotate(a).convert("P") for a in (0, 10, 20)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    out["animated.gif"] = buffer.getvalue()
    for orientation in (3, 6):
        out[f"exif-{orientation}.jpg"] = jpeg_with_orientation(rgb, orientation)
    return out


def all_files() -> dict[str, bytes]:
    files = {str(p.relative_to(PDQ_IMAGES)): p.read_bytes() for p in corpus_images()}
    files.update({f"generated/{name}": data for name, data in generated_images().items()})
    return files


@pytest.fixture(scope="module")
def module_page(browser, site):
    context = browser.new_context()
    page = context.new_page()
    page.goto(site.url)
    page.evaluate("window.localhash.ready")
    yield page
    context.close()


def test_browser_records_match_native(module_page):
    require_corpus()
    distances = {"browser": Counter(), "pillow": Counter()}
    worst_check = {"luma_error": 0.0, "colour_error": 0.0}
    problems = []
    for name, data in all_files().items():
        native = hash_bytes(data)
        ours = hash_in_page(module_page, data)
        if not name.lower().endswith(JPEG_SUFFIXES) or native.get("format") != "JPEG":
            if ours != native:
                diff = {
                    k: (ours.get(k), native.get(k)) for k in set(ours) | set(native) if ours.get(k) != native.get(k)
                }
                problems.append(f"{name}: browser record differs from native in {diff}")
            continue
        # JPEG: compare PDQ with pdqhash on natively (libjpeg-turbo) decoded pixels, for the decoder we
        # ship (the browser's) and, for the record, for Pillow inside Pyodide (IJG libjpeg 9).
        # Every colour and greyscale JPEG's pixels pass the check of browser pixels (localhash/pixelcheck.py):
        # this decoder is correct. CMYK JPEGs are Pillow's (localhash.browser.decoder_for).
        if Image.open(io.BytesIO(data)).mode == "CMYK":
            if "decoded_by" in ours:
                problems.append(f"{name}: a CMYK JPEG went to the browser's decoder")
        elif ours.get("decoded_by") != "browser":
            problems.append(f"{name}: the browser's pixels were not hashed: {ours.get('pixel_check')}")
        else:
            for key in worst_check:
                worst_check[key] = max(worst_check[key], ours["pixel_check"][key])
        reference = pdqhash_hex(data)
        for decoder in ("browser", "pillow"):
            record = ours if decoder == "browser" else hash_in_page(module_page, data, decoder="pillow")
            distance = (int(record["pdq"], 16) ^ int(reference, 16)).bit_count()
            distances[decoder][distance] += 1
            if decoder == "browser" and record["pdq_quality"] >= 50 and distance > 4:
                problems.append(f"{name}: browser PDQ {distance} bits from pdqhash at quality {record['pdq_quality']}")
        same_fields = {
            k for k in native if k not in ("pdq", "pdq_quality", "low_quality", "pdq_oriented", "pdq_dihedral")
        }
        if (int(ours["pdq"], 16) ^ int(reference, 16)) == 0:
            same_fields = set(native)  # same pixels: every field must agree
        for key in sorted(same_fields):
            if ours.get(key) != native.get(key):
                problems.append(f"{name}: {key} browser {ours.get(key)!r} native {native.get(key)!r}")
    for decoder, counter in distances.items():
        print(f"JPEG PDQ distance to pdqhash, {decoder} decoder: {dict(sorted(counter.items()))}")
    print(f"pixel check of the browser's JPEG pixels, worst: {worst_check}")
    browser = distances["browser"]
    assert browser[0] >= 0.95 * sum(browser.values()), f"only {browser[0]} of {sum(browser.values())} JPEGs exact"
    assert not problems, "\n".join(problems)


PIXELS_BOTH_WAYS = """async (b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const options = { colorSpaceConversion: "none", premultiplyAlpha: "none" };
  const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/jpeg" }), options);
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  const fromCanvas = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const frame = new VideoFrame(bitmap, { timestamp: 0 });
  const fromFrame = new Uint8Array(fromCanvas.length);
  await frame.copyTo(fromFrame, { format: "RGBA" });
  frame.close();
  let differ = 0;
  for (let i = 0; i < fromFrame.length; i++) if (fromFrame[i] !== fromCanvas[i]) differ++;
  return differ;
}"""


def without_exif(data: bytes) -> bytes:
    """The JPEG minus its APP1 "Exif" and APP2 "ICC_PROFILE" segments, as worker.js withoutExifOrIcc hands it
    to the decoder."""
    out, at = bytearray(data[:2]), 2
    while at + 4 <= len(data) and data[at] == 0xFF and data[at + 1] not in (0xDA, 0xD9):
        end = at + 2 + int.from_bytes(data[at + 2 : at + 4], "big")
        exif = data[at + 1] == 0xE1 and data[at + 4 : at + 9] == b"Exif\0"
        icc = data[at + 1] == 0xE2 and data[at + 4 : at + 16] == b"ICC_PROFILE\0"
        if not (exif or icc):
            out += data[at:end]
        at = end
    return bytes(out + data[at:])


def test_webcodecs_copy_gives_the_canvas_pixels_on_every_jpeg(module_page):
    """worker.js copies decoded JPEGs through a VideoFrame (one copy instead of three) and falls
    back to a canvas: both must give the same bytes, alpha included, for what the worker decodes
    (the file without its EXIF: with it, the two disagree on rotated pictures)."""
    require_corpus()
    jpegs = {name: data for name, data in all_files().items() if name.lower().endswith(JPEG_SUFFIXES)}
    jpegs = {name: data for name, data in jpegs.items() if Image.open(io.BytesIO(data)).mode in ("RGB", "L")}
    assert len(jpegs) >= 30  # the corpus and generated colour and greyscale JPEGs (39 today)
    differing = {
        name: module_page.evaluate(PIXELS_BOTH_WAYS, base64.b64encode(without_exif(data)).decode())
        for name, data in jpegs.items()
    }
    assert {name: n for name, n in differing.items() if n} == {}
