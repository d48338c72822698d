"""The build: verified inputs only, an auditable manifest, identical rebuilds, strict CSP and SRI, no third party."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from site_build import pyodide_assets
from site_build.dist import build, runtime_dir, sri
from site_build.pins import CORE_SHA256
from tests.conftest import ROOT

NPM_PYODIDE = ROOT / "node_modules" / "pyodide"
ENDPOINT = "https://bank.example.org/api/"


def official_lock() -> dict:
    return json.loads((NPM_PYODIDE / "pyodide-lock.json").read_text())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def flip_byte(data: bytes, at: int | None = None) -> bytes:
    """The same bytes with one byte inverted (the middle one unless told)."""
    at = len(data) // 2 if at is None else at
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def files_of(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def build_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "build.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def genuine_wheels(dist) -> dict[str, bytes]:
    """file name -> the verified bytes of the official numpy and Pillow wheels (as the build that
    made `dist` found them in the default cache)."""
    wheels = pyodide_assets.package_wheels(official_lock(), ROOT / ".cache" / "pyodide", allow_network=False)
    return {wheel.file_name: wheel.path.read_bytes() for wheel in wheels}


def write_carrier(cache: Path, contents: dict[str, bytes]) -> Path:
    """A stand-in for the PyPI package carrying copies, already "downloaded" (so pip never runs)."""
    name, version, prefix = pyodide_assets.FALLBACK_PYPI
    carrier = cache / "download" / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    carrier.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(carrier, "w") as zf:
        for file_name, data in contents.items():
            zf.writestr(prefix + file_name, data)
    return carrier


@pytest.fixture
def official_serves(monkeypatch):
    """Stands in for the official CDN: no test reaches the network; each says what it serves."""
    served: dict[str, bytes | None] = {}
    asked: list[str] = []

    def fake(file_name: str) -> bytes | None:
        asked.append(file_name)
        return served.get(file_name)

    monkeypatch.setattr(pyodide_assets, "_official_bytes", fake)
    fake.served, fake.asked = served, asked
    return fake


NUMPY = official_lock()["packages"]["numpy"]
PILLOW_FILE_NAME = official_lock()["packages"]["pillow"]["file_name"]


# --- tampered inputs ---------------------------------------------------------------------------


def test_tampered_cached_wheel_is_never_shipped_and_a_verified_source_replaces_it(
    tmp_path, dist, genuine_wheels, official_serves, capsys
):
    cache = tmp_path / "cache"
    cache.mkdir()
    for file_name, data in genuine_wheels.items():
        (cache / file_name).write_bytes(data)
    genuine = genuine_wheels[NUMPY["file_name"]]
    tampered = flip_byte(genuine)
    (cache / NUMPY["file_name"]).write_bytes(tampered)
    # a hostile mirror serves other tampered bytes; the PyPI copy has the genuine ones
    official_serves.served[NUMPY["file_name"]] = flip_byte(genuine, 100)
    write_carrier(cache, {NUMPY["file_name"]: genuine})

    out = build(ROOT, tmp_path / "dist", cache_dir=cache)

    shipped = (runtime_dir(out) / NUMPY["file_name"]).read_bytes()
    assert shipped == (runtime_dir(dist) / NUMPY["file_name"]).read_bytes(), "compiled from the genuine wheel"
    assert (cache / NUMPY["file_name"]).read_bytes() == genuine, "the cache now holds the verified bytes"
    log = capsys.readouterr().err
    assert f"{NUMPY['file_name']}: sha256 {sha256(tampered)}" in log, "the rejected cache file is reported"
    assert sha256(flip_byte(genuine, 100)) in log and "rejected" in log, "the rejected mirror bytes are reported"


def test_wheel_without_a_good_source_fails_naming_file_expected_and_actual(tmp_path, genuine_wheels, official_serves):
    cache = tmp_path / "cache"
    cache.mkdir()
    for file_name, data in genuine_wheels.items():
        (cache / file_name).write_bytes(data)
    genuine = genuine_wheels[NUMPY["file_name"]]
    in_cache, in_carrier = flip_byte(genuine), flip_byte(genuine, 7)
    (cache / NUMPY["file_name"]).write_bytes(in_cache)
    write_carrier(cache, {NUMPY["file_name"]: in_carrier})  # the official CDN is unreachable
    old_site = tmp_path / "dist"
    (old_site / "pyodide-0123456789abcdef").mkdir(parents=True)
    (old_site / "index.html").write_text("the previous build")

    with pytest.raises(pyodide_assets.AssetError) as failure:
        build(ROOT, old_site, cache_dir=cache)

    message = str(failure.value)
    assert NUMPY["file_name"] in message and NUMPY["sha256"] in message
    assert sha256(in_cache) in message and sha256(in_carrier) in message
    assert official_serves.asked == [NUMPY["file_name"]]
    assert (old_site / "index.html").read_text() == "the previous build", "a failed build leaves the old site"
    assert not (old_site / "pyodide-0123456789abcdef" / NUMPY["file_name"]).exists()
    assert not any(tmp_path.glob("dist.partial*"))


def test_wheel_missing_everywhere_fails_naming_file_and_expected(tmp_path, official_serves):
    with pytest.raises(pyodide_assets.AssetError) as failure:
        build(ROOT, tmp_path / "dist", cache_dir=tmp_path / "empty-cache", allow_network=False)
    assert NUMPY["file_name"] in str(failure.value) and NUMPY["sha256"] in str(failure.value)
    assert official_serves.asked == [], "allow_network=False asks no server"
    assert not (tmp_path / "dist").exists()


def pyodide_copy(tmp_path: Path) -> Path:
    """node_modules/pyodide as links, so that one file can be replaced without touching the real one."""
    folder = tmp_path / "pyodide"
    folder.mkdir()
    for src in NPM_PYODIDE.iterdir():
        (folder / src.name).symlink_to(src)
    return folder


def test_tampered_pyodide_core_file_fails_the_build(tmp_path):
    folder = pyodide_copy(tmp_path)
    wasm = folder / "pyodide.asm.wasm"
    tampered = flip_byte(wasm.read_bytes(), 1_000_000)
    wasm.unlink()
    wasm.write_bytes(tampered)

    with pytest.raises(pyodide_assets.AssetError) as failure:
        build(ROOT, tmp_path / "dist", pyodide_dir=folder)

    message = str(failure.value)
    assert "pyodide.asm.wasm" in message and CORE_SHA256["pyodide.asm.wasm"] in message
    assert sha256(tampered) in message
    assert not (tmp_path / "dist").exists()


def test_lock_rewritten_to_bless_a_tampered_wheel_fails_the_build(tmp_path, genuine_wheels, official_serves):
    """An attacker who changes a wheel and its sha256 in pyodide-lock.json is caught by the lock's pinned sha256."""
    folder = pyodide_copy(tmp_path)
    tampered = flip_byte(genuine_wheels[NUMPY["file_name"]])
    lock_text = (folder / "pyodide-lock.json").read_text().replace(NUMPY["sha256"], sha256(tampered))
    (folder / "pyodide-lock.json").unlink()
    (folder / "pyodide-lock.json").write_text(lock_text)
    cache = tmp_path / "cache"
    cache.mkdir()
    for file_name, data in genuine_wheels.items():
        (cache / file_name).write_bytes(data)
    (cache / NUMPY["file_name"]).write_bytes(tampered)

    with pytest.raises(pyodide_assets.AssetError) as failure:
        build(ROOT, tmp_path / "dist", cache_dir=cache, pyodide_dir=folder)

    message = str(failure.value)
    assert "pyodide-lock.json" in message and CORE_SHA256["pyodide-lock.json"] in message
    assert sha256(lock_text.encode()) in message
    assert not (tmp_path / "dist").exists()


# --- verify ------------------------------------------------------------------------------------


def test_verify_passes_on_a_fresh_build(dist):
    result = build_cli("verify", str(dist))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


def change_a_byte(site: Path) -> str:
    path = runtime_dir(site) / "python_stdlib.zip"
    path.write_bytes(flip_byte(path.read_bytes()))
    return f"{path.parent.name}/python_stdlib.zip"


def add_a_file(site: Path) -> str:
    (runtime_dir(site) / "extra.js").write_text("fetch('https://tracker.example/')\n")
    return f"{runtime_dir(site).name}/extra.js"


def remove_a_file(site: Path) -> str:
    (site / "submit.js").unlink()
    return "submit.js"


@pytest.mark.parametrize("mutate", [change_a_byte, add_a_file, remove_a_file])
def test_verify_fails_naming_the_file(dist, tmp_path, mutate):
    site = shutil.copytree(dist, tmp_path / "dist")
    name = mutate(site)
    result = build_cli("verify", str(site))
    assert result.returncode == 1, result.stdout + result.stderr
    problems = [line for line in result.stdout.splitlines() if line.startswith(name + ":")]
    assert len(problems) == 1, result.stdout
    other_files = [line for line in result.stdout.splitlines() if ":" in line and not line.startswith(name)]
    assert other_files == [f"{site}: 1 problem(s)"], "only the changed file is reported"


# --- reproducibility ---------------------------------------------------------------------------


def test_two_builds_are_byte_identical_even_when_one_fetches_and_one_reads_the_cache(
    tmp_path, genuine_wheels, official_serves
):
    fetching_cache = tmp_path / "fresh-cache"
    write_carrier(fetching_cache, genuine_wheels)  # nothing cached yet: the wheels come from the PyPI copy
    first = build(ROOT, tmp_path / "first", cache_dir=fetching_cache)
    second = build(ROOT, tmp_path / "second")  # the project's own, filled cache

    a, b = files_of(first), files_of(second)
    assert sorted(a) == sorted(b)
    assert [name for name in a if a[name] != b[name]] == []
    assert "manifest.json" in a and any(re.match(r"pyodide-[0-9a-f]{16}/localhash-.*\.whl$", name) for name in a)


# --- what dist/ contains -----------------------------------------------------------------------

URL = re.compile(rb"https?://[^\s\"'`)<>]*")
# pyodide.mjs names jsDelivr in one place: loadPyodide calls setCdnUrl(".../v${version}/full/"),
# and the package manager reads that URL only in the branch taken when a wheel is missing under
# Node (pyodide.asm.js: `catch(c){if(!IN_NODE||channel!==defaultChannel)throw c} ... cdnURL+file`).
# In a browser a missing wheel throws instead. The privacy tests check the real requests; this
# list makes a Pyodide upgrade that adds an origin fail here until someone reads it.
PYODIDE_KNOWN_URLS = {"pyodide.mjs": {b"https://cdn.jsdelivr.net/pyodide/v${d.version}/full/"}}
# Links a person may choose to follow (the victim's flow): NCMEC's Take It Down for images taken
# under 18, and Quick exit's neutral page. Both only as <a href> in index.html, never loaded by the page.
PAGE_LINKS = {b"https://takeitdown.ncmec.org/", b"https://www.bbc.com/weather"}


def test_no_third_party_origin_in_the_site(dist):
    own = [p for p in dist.iterdir() if p.is_file()] + [runtime_dir(dist) / "pyodide-lock.json"]
    assert {"index.html", "config.json", "_headers", "manifest.json", "app.js", "worker.js"} <= {p.name for p in own}
    for path in own:
        data = path.read_bytes()
        if path.name == "index.html":
            assert set(URL.findall(data)) == PAGE_LINKS
            links = re.findall(rb'<a [^>]*href="(https?://[^"]*)"', data)
            assert sorted(links) == sorted(URL.findall(data)), "an origin outside an <a href>"
            continue
        assert URL.findall(data) == [], f"{path.name} names an origin"
    for rel in ("pyodide.mjs", "pyodide.asm.js"):
        found = set(URL.findall((runtime_dir(dist) / rel).read_bytes()))
        assert found == PYODIDE_KNOWN_URLS.get(rel, set()), f"{rel}: {found}"


def test_manifest_lists_every_file_with_size_sha256_and_provenance(dist):
    manifest = json.loads((dist / "manifest.json").read_text())
    files = files_of(dist)
    del files["manifest.json"]
    assert sorted(manifest["files"]) == sorted(files)
    for rel, data in files.items():
        entry = manifest["files"][rel]
        assert entry["size"] == len(data) and entry["sha256"] == sha256(data), rel
        assert isinstance(entry["provenance"], str) and entry["provenance"], rel
    provenance = {rel: entry["provenance"] for rel, entry in manifest["files"].items()}
    runtime = runtime_dir(dist).name
    assert provenance[f"{runtime}/pyodide.asm.wasm"] == "npm pyodide@0.27.7 pyodide.asm.wasm"
    compiled = "compiled to bytecode by Pyodide's CPython (site_build/bytecode.py)"
    stored = "; stored uncompressed (site_build/trim.py)"
    numpy = manifest["files"][f"{runtime}/{NUMPY['file_name']}"]
    official_members = len(zipfile.ZipFile(ROOT / ".cache" / "pyodide" / NUMPY["file_name"]).namelist())
    assert numpy["provenance"] == (
        f"official pyodide-lock.json 0.27.7 entry 'numpy' sha256 {NUMPY['sha256']} (verified); {compiled}; "
        f"{len(numpy['removed'])} of {official_members} "
        f"the members localhash never imports removed, listed under 'removed'{stored}"
    )
    stdlib = manifest["files"][f"{runtime}/python_stdlib.zip"]
    official_stdlib = f"npm pyodide@0.27.7 python_stdlib.zip sha256 {CORE_SHA256['python_stdlib.zip']}"
    assert stdlib["provenance"].startswith(f"{official_stdlib}; {compiled}, without docstrings; ")
    assert stdlib["provenance"].endswith(f"found by site_build/trace.py), listed under 'removed'{stored}")
    wheel = next(rel for rel in files if rel.startswith(f"{runtime}/localhash-"))
    assert {rel for rel, entry in manifest["files"].items() if "removed" in entry} == {
        f"{runtime}/{name}" for name in ("python_stdlib.zip", NUMPY["file_name"], PILLOW_FILE_NAME)
    } | {wheel}
    assert re.match(r"built from py/localhash at commit [0-9a-f]{40}(\+uncommitted-changes)?; ", provenance[wheel])
    # The site's wheel leaves out only what runs natively alone: the CLI and PyAV's video decoding.
    native_only = [
        f"localhash/{folder}{module}{suffix}"
        for module in ("__main__", "cli", "video_native")
        for folder, suffix in (("", ".py"), ("__pycache__/", ".cpython-312.pyc"))
    ]
    assert manifest["files"][wheel]["removed"] == sorted(native_only)
    assert (
        f"6 of {len(manifest['files'][wheel]['removed']) + len(zipfile.ZipFile(dist / wheel).namelist())} "
        in (provenance[wheel])
    )
    assert not set(native_only) & set(zipfile.ZipFile(dist / wheel).namelist())
    assert provenance["worker.js"].startswith("web/worker.js at commit ")
    assert provenance["worker.js"].endswith(f", with the runtime folder's name ({runtime}) filled in")
    assert provenance["index.html"].startswith("web/index.html at commit ")


def test_trimmed_lock_lists_exactly_numpy_pillow_localhash_with_matching_sha256(dist):
    lock = json.loads((runtime_dir(dist) / "pyodide-lock.json").read_text())
    official = official_lock()
    assert sorted(lock["packages"]) == ["localhash", "numpy", "pillow"]
    assert lock["info"] == official["info"]
    for name, entry in lock["packages"].items():
        assert entry["sha256"] == sha256((runtime_dir(dist) / entry["file_name"]).read_bytes()), name
        if name != "localhash":  # the official entry, for the compiled wheel the site serves
            assert entry == {**official["packages"][name], "sha256": entry["sha256"]}
    assert lock["packages"]["localhash"]["depends"] == ["numpy", "pillow"]


# --- endpoint, CSP and SRI ---------------------------------------------------------------------


class PageParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_script = ""
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.inline_script += data


def parse_page(site: Path) -> PageParser:
    parser = PageParser()
    parser.feed((site / "index.html").read_text())
    return parser


def meta_csp(site: Path) -> dict[str, list[str]]:
    page = parse_page(site)
    [content] = [a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in content.split(";") if d.strip()}


def header_csp(site: Path) -> dict[str, list[str]]:
    [line] = [line for line in (site / "_headers").read_text().splitlines() if "Content-Security-Policy:" in line]
    content = line.split(":", 1)[1]
    return {d.split()[0]: d.split()[1:] for d in content.split(";") if d.strip()}


def origins_in(csp: dict[str, list[str]]) -> set[str]:
    return {source for sources in csp.values() for source in sources if "://" in source}


def test_default_build_connects_only_to_its_own_origin(dist):
    assert json.loads((dist / "config.json").read_text()) == {"endpoint": "api/"}
    for csp in (meta_csp(dist), header_csp(dist)):
        assert csp["connect-src"] == ["'self'"]
        assert origins_in(csp) == set()


@pytest.mark.parametrize("after", [True, False], ids=["options_after_the_command", "options_before_it"])
def test_endpoint_option_writes_config_and_adds_only_that_origin_to_connect_src(tmp_path, after):
    out = tmp_path / "mirror"
    options = ["--endpoint", ENDPOINT, "--out", str(out)]
    result = build_cli(*(["build", *options] if after else [*options, "build"]))  # the README writes them after
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads((out / "config.json").read_text()) == {"endpoint": ENDPOINT}
    for csp in (meta_csp(out), header_csp(out)):
        assert csp["connect-src"] == ["'self'", "https://bank.example.org"]
        assert origins_in(csp) == {"https://bank.example.org"}, "the endpoint's origin, nowhere but connect-src"
    assert json.loads((out / "manifest.json").read_text())["endpoint"] == ENDPOINT
    assert build_cli("verify", str(out)).returncode == 0


def test_every_script_and_stylesheet_has_matching_integrity(dist):
    page = parse_page(dist)
    scripts = [a for t, a in page.tags if t == "script"]
    styles = [a for t, a in page.tags if t == "link" and a.get("rel") == "stylesheet"]
    assert len(scripts) >= 3 and styles
    for attrs in scripts + styles:
        target = attrs.get("src") or attrs.get("href")
        assert target and not re.match(r"[a-z]+:|/", target), f"{target}: a relative path"
        assert attrs.get("integrity") == sri((dist / target).read_bytes()), target
    assert page.inline_script.strip() == "", "no inline script"
    handlers = [(t, name) for t, a in page.tags for name in a if name.startswith("on") or name == "style"]
    assert handlers == [], "inline handlers and style attributes would need 'unsafe-inline'"


def test_csp_has_no_unsafe_inline_or_eval_and_only_wasm_eval(dist):
    for csp in (meta_csp(dist), header_csp(dist)):
        every = [source for sources in csp.values() for source in sources]
        assert "'unsafe-inline'" not in every and "'unsafe-eval'" not in every
        assert csp["script-src"] == ["'self'", "'wasm-unsafe-eval'"]
        assert csp["default-src"] == ["'self'"] and csp["worker-src"] == ["'self'"]
    assert "frame-ancestors" not in meta_csp(dist), "ignored in <meta>; sent as a header"
    assert header_csp(dist)["frame-ancestors"] == ["'none'"]


@pytest.mark.parametrize(
    ("command", "listed"),
    [
        ("build", ["--endpoint", "--out"]),
        ("serve", ["--endpoint", "--out", "--host", "--port", "--database"]),
        ("verify", ["site"]),
        ("test", ["PYTEST ARGS"]),
        ("bench", ["bench/robustness.py"]),
    ],
)
def test_every_command_has_help_listing_its_options(command, listed):
    result = build_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: build.py {command}")
    assert all(option in result.stdout for option in listed), result.stdout
