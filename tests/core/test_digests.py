"""MD5 and SHA-256 by chunks equal hashlib over the whole file, whatever the chunk sizes."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localhash import HashStream, hash_bytes
from localhash.digests import digest_bytes
from tests.conftest import corpus_images, require_corpus


def expected_digests(data: bytes) -> dict[str, str]:
    return {"md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest()}


def feed_in_chunks(data: bytes, sizes: list[int]) -> HashStream:
    stream, position = HashStream(), 0
    for size in sizes:
        stream.update(data[position : position + size])
        position += size
    stream.update(data[position:])
    return stream


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=20_000), sizes=st.lists(st.integers(0, 5000), max_size=30))
def test_chunked_stream_equals_hashlib_of_the_whole(data, sizes):
    stream = feed_in_chunks(data, sizes)
    assert stream.hexdigests() == expected_digests(data)
    assert stream.size == len(data)


def test_chunk_types_bytes_bytearray_memoryview_mix():
    data = random.Random(1).randbytes(300_001)
    stream = HashStream()
    stream.update(data[:100_000]).update(bytearray(data[100_000:200_000])).update(memoryview(data)[200_000:])
    assert stream.hexdigests() == expected_digests(data)
    assert stream.size == 300_001


def test_a_fresh_stream_digests_nothing():
    stream = HashStream()
    assert stream.hexdigests() == expected_digests(b"")
    assert stream.size == 0


def test_hexdigests_can_be_read_midway_and_feeding_continues():
    data = random.Random(2).randbytes(10_000)
    stream = HashStream().update(data[:4000])
    assert stream.hexdigests() == expected_digests(data[:4000])
    stream.update(data[4000:])
    assert stream.hexdigests() == expected_digests(data)


def test_many_one_byte_chunks_count_every_byte():
    data = bytes(range(256)) * 4
    stream = HashStream()
    for byte in data:
        stream.update(bytes([byte]))
    assert stream.size == len(data)
    assert stream.hexdigests() == expected_digests(data)


@pytest.mark.parametrize("size", [0, 1, 55, 56, 63, 64, 65, 1_000_003])  # around the 64-byte block size
def test_digest_bytes_equals_hashlib(size):
    data = random.Random(size).randbytes(size)
    assert digest_bytes(data) == expected_digests(data)
    assert digest_bytes(bytearray(data)) == expected_digests(data)
    assert digest_bytes(memoryview(data)) == expected_digests(data)


def test_known_answer_vectors():
    """RFC 1321 and FIPS 180-2 test strings, so a broken hashlib stand-in would be caught too."""
    assert digest_bytes(b"abc") == {
        "md5": "900150983cd24fb0d6963f7d28e17f72",
        "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    }


@pytest.mark.corpus
def test_record_digests_are_those_of_the_file_bytes():
    require_corpus()
    images = corpus_images()[::4]
    assert images
    for path in images:
        data = path.read_bytes()
        record = hash_bytes(data)
        assert record["ok"] is True, (path, record)
        assert {"md5": record["md5"], "sha256": record["sha256"]} == expected_digests(data), path
