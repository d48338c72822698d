"""`python -m localhash` as a person runs it: one JSON line per file, in order, and honest exit codes."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from localhash import hash_bytes
from localhash.pdq import DIHEDRAL_NAMES
from tests.conftest import CORPUS, PDQ_IMAGES, ROOT, require_corpus

HASH_LINE_KEYS = [
    "file",
    "ok",
    "media",
    "format",
    "width",
    "height",
    "frames",
    "md5",
    "sha256",
    "pdq",
    "pdq_quality",
    "low_quality",
    "phash",
    "dhash",
    "ahash",
]
MATCH_LINE_KEYS = ["file", "ok", "pdq", "pdq_quality", "low_quality", "matches"]
# with PyAV (the video extra, installed for the tests) a video also gets its vPDQ (tests/core/test_vpdq.py)
VIDEO_LINE_KEYS = ["file", "ok", "media", "format", "md5", "sha256", "vpdq"]


def keys_with(extra: str) -> list[str]:
    """The hash line's keys with an optional PDQ field in its documented place (after low_quality)."""
    at = HASH_LINE_KEYS.index("low_quality") + 1
    return HASH_LINE_KEYS[:at] + [extra] + HASH_LINE_KEYS[at:]


EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "py")}
    return subprocess.run(
        [sys.executable, "-m", "localhash", *args],
        cwd=cwd or ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def json_lines(result: subprocess.CompletedProcess) -> list[dict]:
    assert "Traceback" not in result.stderr, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def assert_usage_error(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == EXIT_USAGE, (result.stdout, result.stderr)
    [line] = json_lines(result)
    assert line["ok"] is False and line["error"]["code"] == "usage" and line["error"]["message"]
    return line


def flip_bits(hex_hash: str, positions: list[int]) -> str:
    value = int(hex_hash, 16)
    for position in positions:
        value ^= 1 << position
    return format(value, f"0{len(hex_hash)}x")


def hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A folder of test files: real photos (from the corpus), a rotated copy, and bad files."""
    require_corpus()
    folder = tmp_path_factory.mktemp("cli")
    bridge = Image.open(PDQ_IMAGES / "reg-test-input" / "dih" / "bridge-1-original.jpg").convert("RGB")
    bridge = bridge.resize((400, 251))  # a real photo, small enough that each run is quick
    paths = {
        "bridge": folder / "bridge.png",
        "rotated": folder / "bridge rotated.png",
        "spaced": folder / "holiday photos" / "my picture.jpg",
        "relative": folder / "sub" / "coaster.jpg",
        "text": folder / "notes.jpg",
        "empty": folder / "empty.png",
        "exif6": PDQ_IMAGES / "reg-test-input" / "exif-rotn" / "exif-rotn-6.jpg",
        "exif1": PDQ_IMAGES / "reg-test-input" / "exif-rotn" / "exif-rotn-1.jpg",
        "video": CORPUS / "vpdq" / "videos" / "test-padded-dimensions.mp4",
    }
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    bridge.save(paths["bridge"])
    bridge.transpose(Image.Transpose.ROTATE_90).save(paths["rotated"])
    bridge.save(paths["spaced"], quality=90)
    Image.open(PDQ_IMAGES / "reg-test-input" / "pen-and-coaster.png").convert("RGB").resize((300, 240)).save(
        paths["relative"], quality=90
    )
    paths["text"].write_text("this is a shopping list, not a photo\n")
    paths["empty"].write_bytes(b"")
    paths["folder"] = folder
    return paths


# --- hash ----------------------------------------------------------------------------------


def test_hash_all_good_files_exits_0_with_exactly_the_documented_keys(files):
    result = run_cli("hash", str(files["bridge"]), str(files["spaced"]))
    assert result.returncode == EXIT_OK, result.stderr
    lines = json_lines(result)
    assert [line["file"] for line in lines] == [str(files["bridge"]), str(files["spaced"])]
    for line in lines:
        assert list(line) == HASH_LINE_KEYS
        assert line["ok"] is True
    assert lines[0]["format"] == "PNG" and lines[1]["format"] == "JPEG"
    assert (lines[0]["width"], lines[0]["height"], lines[0]["frames"]) == (400, 251, 1)


def test_hash_line_equals_the_python_record(files):
    [line] = json_lines(run_cli("hash", str(files["bridge"])))
    assert line == {"file": str(files["bridge"]), **hash_bytes(files["bridge"].read_bytes())}


def test_hash_with_bad_files_exits_1_and_still_reports_every_file_in_order(files):
    folder = files["folder"]
    given = [
        "sub/coaster.jpg",  # relative to the working directory, kept exactly as typed
        "notes.jpg",
        "holiday photos/my picture.jpg",
        "empty.png",
        "no such file.png",
        "./bridge.png",
    ]
    result = run_cli("hash", *given, cwd=folder)
    assert result.returncode == EXIT_SOME_FAILED, result.stderr
    lines = json_lines(result)
    assert [line["file"] for line in lines] == given
    assert [line["ok"] for line in lines] == [True, False, True, False, False, True]
    assert lines[1]["error"]["code"] == "unsupported_format"
    assert lines[3]["error"]["code"] == "empty_file"
    assert lines[4]["error"]["code"] and "No such file" in lines[4]["error"]["message"]
    for line in (lines[1], lines[3], lines[4]):
        assert list(line) == ["file", "ok", "error"] and list(line["error"]) == ["code", "message"]
    assert lines[2]["pdq"] == hash_bytes(files["spaced"].read_bytes())["pdq"]


def test_dihedral_adds_the_eight_variants(files):
    [plain] = json_lines(run_cli("hash", str(files["bridge"])))
    result = run_cli("hash", "--dihedral", str(files["bridge"]))
    assert result.returncode == EXIT_OK
    [line] = json_lines(result)
    assert list(line) == keys_with("pdq_dihedral")
    assert list(line["pdq_dihedral"]) == list(DIHEDRAL_NAMES)
    assert all(re.fullmatch("[0-9a-f]{64}", h) for h in line["pdq_dihedral"].values())
    assert line["pdq_dihedral"]["original"] == line["pdq"] == plain["pdq"]
    assert len(set(line["pdq_dihedral"].values())) == 8


def test_exif_orientation_adds_pdq_oriented_only_when_it_is_not_1(files):
    result = run_cli("hash", str(files["exif1"]), str(files["exif6"]))
    assert result.returncode == EXIT_OK
    upright, turned = json_lines(result)
    assert "pdq_oriented" not in upright
    assert list(turned) == keys_with("pdq_oriented")
    assert re.fullmatch("[0-9a-f]{64}", turned["pdq_oriented"]) and turned["pdq_oriented"] != turned["pdq"]


def test_mode_and_max_pixels_reach_the_hasher(files):
    path = str(files["bridge"])
    [cli] = json_lines(run_cli("hash", "--mode", "reference-cli", path))
    assert cli["pdq"] == hash_bytes(files["bridge"].read_bytes(), mode="reference-cli")["pdq"]
    result = run_cli("hash", "--max-pixels", "1000", path)
    assert result.returncode == EXIT_SOME_FAILED
    [line] = json_lines(result)
    assert line["error"]["code"] == "too_large"


def test_hash_a_video_gives_its_exact_digests_and_exit_0(files):
    result = run_cli("hash", str(files["video"]), str(files["bridge"]))
    assert result.returncode == EXIT_OK, result.stdout
    video, picture = json_lines(result)
    data = files["video"].read_bytes()
    assert video == {
        "file": str(files["video"]),
        "ok": True,
        "media": "video",
        "format": "MP4",
        "md5": hashlib.md5(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
        "vpdq": video["vpdq"],
    }
    assert video["vpdq"] and all(len(frame.split(",")) == 3 for frame in video["vpdq"])
    assert list(video) == VIDEO_LINE_KEYS
    assert picture["media"] == "image"


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="no_command"),
        pytest.param(["frobnicate", "x.png"], id="unknown_command"),
        pytest.param(["hash"], id="hash_without_files"),
        pytest.param(["hash", "--mode", "fast", "x.png"], id="bad_mode"),
        pytest.param(["hash", "--max-pixels", "lots", "x.png"], id="bad_max_pixels"),
        pytest.param(["compare", "ab" * 32], id="compare_one_hash"),
        pytest.param(["match", "x.png"], id="match_without_bank"),
        pytest.param(["hash", "--no-such-option", "x.png"], id="unknown_option"),
    ],
)
def test_usage_errors_exit_2_with_a_json_error(args):
    assert_usage_error(run_cli(*args))


# --- compare -------------------------------------------------------------------------------


@pytest.mark.parametrize("digits", [64, 16])
def test_compare_prints_the_hamming_distance(digits):
    rng = random.Random(digits)
    for _ in range(3):
        a = format(rng.getrandbits(digits * 4), f"0{digits}x")
        b = flip_bits(a, rng.sample(range(digits * 4), rng.randrange(0, 40)))
        result = run_cli("compare", a, b.upper())
        assert result.returncode == EXIT_OK, result.stdout
        assert result.stdout.strip() == str(hamming(a, b))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param("0" * 64, "0" * 16, id="pdq_vs_imagehash_length"),
        pytest.param("0" * 63, "0" * 63, id="odd_length"),
        pytest.param("g" * 64, "0" * 64, id="not_hex"),
        pytest.param("0" * 32, "0" * 32, id="md5_length"),
    ],
)
def test_compare_rejects_invalid_or_mismatched_hashes(a, b):
    result = run_cli("compare", a, b)
    assert result.returncode == EXIT_USAGE
    [line] = json_lines(result)
    assert line["ok"] is False and line["error"]["code"] == "invalid_hash" and line["error"]["message"]


# --- match ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bank(files) -> dict:
    """A bank holding the bridge's PDQ, a near copy (5 bits off), a far copy (40 bits off), and noise."""
    rng = random.Random(31)
    pdq = hash_bytes(files["bridge"].read_bytes())["pdq"]
    near = flip_bits(pdq, rng.sample(range(256), 5))
    far = flip_bits(pdq, rng.sample(range(256), 40))
    noise = [format(rng.getrandbits(256), "064x") for _ in range(200)]
    path = files["folder"] / "bank.txt"
    path.write_text("\n".join(noise[:100] + [near, pdq, far] + noise[100:]) + "\n")
    return {"path": path, "pdq": pdq, "near": near, "far": far, "all": noise + [near, pdq, far]}


def expected_matches(query: str, bank_hashes: list[str], threshold: int) -> list[tuple[str, int]]:
    return sorted(((h, hamming(query, h)) for h in bank_hashes if hamming(query, h) <= threshold), key=lambda m: m[1])


def test_match_reports_bank_hashes_within_the_default_threshold(files, bank):
    result = run_cli("match", "--bank", str(bank["path"]), str(files["bridge"]))
    assert result.returncode == EXIT_OK, result.stderr
    [line] = json_lines(result)
    assert list(line) == MATCH_LINE_KEYS
    assert line["pdq"] == bank["pdq"]
    found = [(m["hash"], m["distance"]) for m in line["matches"]]
    assert found == [(bank["pdq"], 0), (bank["near"], 5)]
    assert found == expected_matches(line["pdq"], bank["all"], 31)
    assert {m["variant"] for m in line["matches"]} == {"original"}


@pytest.mark.parametrize("threshold", [0, 4, 5, 39, 40])
def test_match_respects_the_threshold(files, bank, threshold):
    result = run_cli("match", "--bank", str(bank["path"]), "--threshold", str(threshold), str(files["bridge"]))
    [line] = json_lines(result)
    found = [(m["hash"], m["distance"]) for m in line["matches"]]
    assert found == expected_matches(bank["pdq"], bank["all"], threshold)


def test_match_unrelated_picture_has_no_matches(files, bank):
    result = run_cli("match", "--bank", str(bank["path"]), str(files["relative"]))
    assert result.returncode == EXIT_OK
    [line] = json_lines(result)
    assert line["matches"] == []


def test_rotated_copy_matches_only_with_dihedral(files, bank):
    rotated = str(files["rotated"])
    [plain] = json_lines(run_cli("match", "--bank", str(bank["path"]), rotated))
    assert plain["matches"] == []
    result = run_cli("match", "--bank", str(bank["path"]), "--dihedral", rotated)
    assert result.returncode == EXIT_OK
    [line] = json_lines(result)
    assert list(line) == MATCH_LINE_KEYS
    hits = [m for m in line["matches"] if m["hash"] == bank["pdq"]]
    assert hits, line["matches"]
    assert all(m["variant"] in DIHEDRAL_NAMES and m["variant"] != "original" for m in hits)
    assert min(m["distance"] for m in hits) <= 31
    distances = [m["distance"] for m in line["matches"]]
    assert distances == sorted(distances)


def test_match_a_video_reports_no_matches_and_exit_0(files, bank):
    result = run_cli("match", "--bank", str(bank["path"]), str(files["video"]))
    assert result.returncode == EXIT_OK, result.stdout
    [line] = json_lines(result)
    assert list(line) == [k for k in VIDEO_LINE_KEYS if k != "vpdq"] + ["vpdq_frames", "matches"]
    assert line["media"] == "video" and line["matches"] == []


def test_match_with_a_bad_file_exits_1_and_reports_the_others(files, bank):
    result = run_cli("match", "--bank", str(bank["path"]), str(files["text"]), str(files["bridge"]))
    assert result.returncode == EXIT_SOME_FAILED
    bad, good = json_lines(result)
    assert bad["file"] == str(files["text"]) and bad["ok"] is False
    assert bad["error"]["code"] == "unsupported_format"
    assert good["file"] == str(files["bridge"]) and good["matches"]


def test_bad_bank_line_exits_2_and_names_the_line(files, tmp_path):
    bank_path = tmp_path / "bank.txt"
    bank_path.write_text("# my bank\n" + "a" * 64 + "\n" + "not-a-hash\n" + "b" * 64 + "\n")
    result = run_cli("match", "--bank", str(bank_path), str(files["bridge"]))
    assert result.returncode == EXIT_USAGE
    [line] = json_lines(result)
    assert line["ok"] is False
    assert f"{bank_path}:3" in line["error"]["message"]


def test_missing_bank_file_exits_2(files, tmp_path):
    result = run_cli("match", "--bank", str(tmp_path / "absent.txt"), str(files["bridge"]))
    assert result.returncode == EXIT_USAGE
    [line] = json_lines(result)
    assert line["ok"] is False and line["error"]["message"]


# --- README examples -------------------------------------------------------------------------

ELIDED = "..."  # the README's stand-in for values too long to show


def readme_console_examples() -> list[tuple[str, list[str]]]:
    """(command, expected output lines) for every `$ python -m localhash` line in README console blocks."""
    readme = ROOT / "README.md"
    if not readme.is_file():
        return []
    examples: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", readme.read_text(encoding="utf-8"), flags=re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                examples.append((line[2:], []))
            elif examples and line.strip():
                examples[-1][1].append(line)
    return [(command, output) for command, output in examples if command.startswith("python -m localhash ")]


def assert_matches_elided(actual, expected, where: str) -> None:
    """Equal, except that "..." in the README stands for any value."""
    if expected == ELIDED:
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and list(actual) == list(expected), (where, actual)
        for key, value in expected.items():
            assert_matches_elided(actual[key], value, f"{where}.{key}")
    else:
        assert actual == expected, (where, actual, expected)


README_EXAMPLES = readme_console_examples()


def test_readme_has_cli_examples():
    assert len(README_EXAMPLES) >= 3, "README.md should show hash, compare and match in a ```console block"
    assert {command.split()[3] for command, _ in README_EXAMPLES} >= {"hash", "compare", "match"}


@pytest.mark.corpus
@pytest.mark.parametrize(("command", "expected"), README_EXAMPLES, ids=[c.split()[3] for c, _ in README_EXAMPLES])
def test_readme_example_prints_what_the_readme_shows(command, expected):
    require_corpus()  # the examples hash files from ../shared/corpus, relative to the project root
    result = run_cli(*shlex.split(command)[3:])
    assert result.returncode == EXIT_OK, (command, result.stdout, result.stderr)
    actual = result.stdout.splitlines()
    assert len(actual) == len(expected), (command, actual)
    for actual_line, expected_line in zip(actual, expected, strict=True):
        if expected_line.startswith("{"):
            assert_matches_elided(json.loads(actual_line), json.loads(expected_line), command)
        else:
            assert actual_line == expected_line, command
