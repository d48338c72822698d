"""Bank search finds exactly what a brute-force Hamming scan finds, nearest first, from forgiving bank files."""

from __future__ import annotations

import random

import pytest

from localhash import PDQ_MATCH_THRESHOLD, Bank, LocalhashError
from tests.conftest import CORPUS, require_corpus

HASH_LISTS = CORPUS / "pdq" / "hash-lists"


def hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def random_hash(rng: random.Random) -> str:
    return format(rng.getrandbits(256), "064x")


def at_distance(rng: random.Random, origin: str, distance: int) -> str:
    value = int(origin, 16)
    for bit in rng.sample(range(256), distance):
        value ^= 1 << bit
    return format(value, "064x")


def brute_force(bank_hashes: list[str], query: str, threshold: int) -> list[tuple[str, int]]:
    """Every hash within threshold, nearest first, ties in bank order."""
    scored = [(index, h, hamming(query, h)) for index, h in enumerate(bank_hashes)]
    return [(h, d) for _, h, d in sorted((s for s in scored if s[2] <= threshold), key=lambda s: (s[2], s[0]))]


@pytest.fixture(scope="module")
def rng_bank() -> tuple[list[str], list[str]]:
    """3000 random hashes plus, around each query, hashes at every distance from 0 to 40."""
    rng = random.Random(20240601)
    queries = [random_hash(rng) for _ in range(10)]
    hashes = [random_hash(rng) for _ in range(3000)]
    for query in queries:
        for distance in (*range(0, 41, 3), PDQ_MATCH_THRESHOLD, PDQ_MATCH_THRESHOLD + 1, 10, 20):
            hashes.insert(rng.randrange(len(hashes) + 1), at_distance(rng, query, distance))
    return hashes, queries


def test_search_equals_brute_force_on_random_hashes(rng_bank):
    hashes, queries = rng_bank
    bank = Bank.from_hex(hashes)
    assert len(bank) == len(hashes)
    for query in queries:
        for threshold in (0, 10, PDQ_MATCH_THRESHOLD, 40, 90):
            assert bank.search(query, threshold) == brute_force(hashes, query, threshold), (query, threshold)


def test_default_threshold_includes_31_and_excludes_32(rng_bank):
    hashes, queries = rng_bank
    bank = Bank.from_hex(hashes)
    for query in queries:
        distances = [d for _, d in bank.search(query)]
        assert PDQ_MATCH_THRESHOLD in distances
        assert max(distances) == PDQ_MATCH_THRESHOLD
        assert distances == sorted(distances)
        assert PDQ_MATCH_THRESHOLD + 1 in [hamming(query, h) for h in hashes]  # present, just not returned


def test_distances_equal_brute_force_for_every_row(rng_bank):
    hashes, queries = rng_bank
    bank = Bank.from_hex(hashes)
    assert list(bank.distances(queries[0])) == [hamming(queries[0], h) for h in hashes]


def test_extreme_distances_0_and_256():
    zeros, ones = "0" * 64, "f" * 64
    bank = Bank.from_hex([ones, zeros])
    assert bank.search(zeros, 256) == [(zeros, 0), (ones, 256)]
    assert list(bank.distances(ones)) == [0, 256]


def test_every_bit_position_counts_once():
    """A hash one bit away in each of the 256 positions: catches word or byte-order slips."""
    origin = "0123456789abcdef" * 4
    neighbours = [format(int(origin, 16) ^ (1 << bit), "064x") for bit in range(256)]
    bank = Bank.from_hex(neighbours)
    assert list(bank.distances(origin)) == [1] * 256
    assert bank.search(origin, 0) == []


def test_empty_bank_finds_nothing():
    assert Bank.from_hex([]).search("0" * 64) == []


def test_queries_are_validated_and_normalised():
    bank = Bank.from_hex(["ab" * 32])
    assert bank.search("  " + "AB" * 32 + "\n", 0) == [("ab" * 32, 0)]
    with pytest.raises(LocalhashError) as failure:
        bank.search("ab" * 31)
    assert failure.value.code == "invalid_hash"


def test_from_file_tolerates_blank_lines_comments_upper_case_and_extra_columns(tmp_path):
    rng = random.Random(5)
    expected = [random_hash(rng) for _ in range(5)]
    path = tmp_path / "bank.txt"
    path.write_text(
        "# exported from the platform\n"
        "\n"
        f"{expected[0]}\n"
        f"   {expected[1].upper()}   \n"
        f"{expected[2]},87,2024-06-01\n"
        f"{expected[3]} 100 some-label  # trailing comment\n"
        "   \t\n"
        f"{expected[4]}\t42\r\n"
        "# the end\n"
    )
    bank = Bank.from_file(str(path))
    assert bank.hashes == expected
    assert bank.search(expected[1].upper(), 0) == [(expected[1], 0)]


@pytest.mark.parametrize(
    ("bad_line", "line_number"),
    [("not-a-hash", 3), ("ab" * 31, 3), ("ab" * 33, 3), ("zz" * 32, 3)],
)
def test_from_file_names_the_bad_line(tmp_path, bad_line, line_number):
    path = tmp_path / "bank.txt"
    path.write_text("# header\n" + "a" * 64 + "\n" + bad_line + "\n" + "b" * 64 + "\n")
    with pytest.raises(LocalhashError) as failure:
        Bank.from_file(str(path))
    assert failure.value.code == "invalid_hash"
    assert f"{path}:{line_number}:" in failure.value.message


@pytest.mark.corpus
def test_upstream_haystack_and_needles_search_like_brute_force():
    require_corpus()
    haystack_path, needles_path = HASH_LISTS / "haystack.txt", HASH_LISTS / "needles.txt"
    haystack = Bank.from_file(str(haystack_path))
    needles = Bank.from_file(str(needles_path))
    raw_haystack = [line.strip().lower() for line in haystack_path.read_text().splitlines() if line.strip()]
    assert haystack.hashes == raw_haystack
    assert len(haystack) == 1350 and len(needles) == 100
    total = 0
    for needle in needles.hashes:
        for threshold in (PDQ_MATCH_THRESHOLD, 63):
            found = haystack.search(needle, threshold)
            assert found == brute_force(raw_haystack, needle, threshold), needle
            total += len(found)
    assert total > 0, "the upstream lists are built so that needles have neighbours in the haystack"
