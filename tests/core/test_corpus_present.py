"""Conformance tests read ../shared/corpus; without it they would have nothing to check."""

from tests.conftest import PDQ_IMAGES, corpus_images, require_corpus


def test_corpus_is_present_and_has_images():
    require_corpus()
    assert len(corpus_images()) >= 50, f"expected the PDQ test images under {PDQ_IMAGES}"
