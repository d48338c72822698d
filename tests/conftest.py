"""Shared fixtures: where the corpus lives, and a loud failure when it is missing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
PDQ_IMAGES = CORPUS / "pdq" / "images"


def require_corpus() -> Path:
    """The corpus folder, or a failure that says where it was expected.

    A missing corpus must not turn conformance tests into silent passes or skips.
    """
    if not PDQ_IMAGES.is_dir():
        pytest.fail(f"test corpus not found at {CORPUS} (expected ../shared/corpus beside the project root)")
    return CORPUS


def corpus_images() -> list[Path]:
    """Every image under ../shared/corpus/pdq/images, sorted; empty when the corpus is absent."""
    if not PDQ_IMAGES.is_dir():
        return []
    return sorted(p for p in PDQ_IMAGES.rglob("*") if p.is_file())


@pytest.fixture(scope="session")
def corpus() -> Path:
    return require_corpus()


@pytest.fixture(scope="session")
def heif_samples(tmp_path_factory):
    """HEIC files made from the corpus (tests/heif_samples.py says how), once per run."""
    from tests.heif_samples import make_heif_samples

    require_corpus()
    return make_heif_samples(tmp_path_factory.mktemp("heif"))


@pytest.fixture(scope="session")
def avif_samples(tmp_path_factory):
    """AVIF files made from the corpus (tests/avif_samples.py says how), once per run."""
    from tests.avif_samples import make_avif_samples

    require_corpus()
    return make_avif_samples(tmp_path_factory.mktemp("avif"))


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole session, shared by tests/site and tests/flow.

    Playwright's sync API runs its own event loop: two `sync_playwright()` alive at once in one
    thread fail, so there is exactly one, here.
    """
    from site_build.system import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `python3 build.py test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# What only a browser's JPEG record has: whose pixels were hashed, and their check (web/MESSAGES.md).
BROWSER_ONLY_KEYS = ("decoded_by", "pixel_check")


def native_fields(record: dict) -> dict:
    """A browser record without BROWSER_ONLY_KEYS: what `python -m localhash hash` prints for the file."""
    return {k: v for k, v in record.items() if k not in BROWSER_ONLY_KEYS}


def jpeg_with_orientation(image, orientation: int, quality: int = 90) -> bytes:
    """`image` saved as a JPEG (a Pillow Image, its pixels stored as they are) whose EXIF names `orientation`."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation  # EXIF Orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=exif.tobytes())
    return buffer.getvalue()
