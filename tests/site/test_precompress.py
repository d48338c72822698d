"""Precompressed siblings and cache headers: what the build writes, what verify checks, what each server sends."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import brotli
import pytest

from hashbank import Config
from hashbank.static import choose_encoding
from site_build import headers, precompress
from site_build.verify import verify
from tests.bank.conftest import LiveBank
from tests.site.conftest import RUNTIME, Server, make_site

COMPRESSED = {"index.html", "app.js", f"{RUNTIME}/pyodide.mjs", f"{RUNTIME}/tiny.wasm"}


def siblings_of(site: Path) -> dict[str, bytes]:
    return {
        p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.suffix in (".br", ".gz")
    }


@pytest.fixture(scope="module")
def small_site(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    site = make_site(tmp_path_factory.mktemp("small") / "site")
    return site, precompress.write_siblings(site)


# --- what the build writes ------------------------------------------------------------------------


def test_siblings_only_for_files_that_compress_with_their_provenance(small_site):
    site, provenance = small_site
    expected = {rel + suffix for rel in COMPRESSED for suffix in (".br", ".gz")}
    assert set(siblings_of(site)) == expected
    assert set(provenance) == expected
    assert provenance["index.html.br"] == "brotli 1.1.0 quality 11 of index.html"
    assert provenance["index.html.gz"] == "gzip by zopfli 0.4.3 (1 iteration, mtime 0, no name) of index.html"


def test_each_sibling_decompresses_to_its_original_and_gzip_names_no_file_and_no_time(small_site):
    site, _ = small_site
    for rel in COMPRESSED:
        original = (site / rel).read_bytes()
        br, gz = (site / (rel + ".br")).read_bytes(), (site / (rel + ".gz")).read_bytes()
        assert brotli.decompress(br) == original, rel
        assert gzip.decompress(gz) == original, rel
        assert gz[3] == 0, f"{rel}.gz: header flags (FNAME, FCOMMENT, FEXTRA) set"
        assert gz[4:8] == bytes(4), f"{rel}.gz: a modification time in the header"
        assert len(br) < len(gz) < len(original) * 0.95, rel


def test_siblings_are_byte_identical_across_runs_and_a_second_run_adds_nothing(small_site, tmp_path):
    site, provenance = small_site
    again = make_site(tmp_path / "again")
    assert precompress.write_siblings(again) == provenance
    assert siblings_of(again) == siblings_of(site)
    assert precompress.write_siblings(again) == provenance, "no sibling of a sibling"
    assert siblings_of(again) == siblings_of(site)


def test_a_cache_entry_that_does_not_decompress_to_the_file_is_not_used(small_site, tmp_path):
    site, _ = small_site
    cache = tmp_path / "cache"
    precompress.write_siblings(make_site(tmp_path / "first"), cache)
    entries = sorted(cache.iterdir())
    assert len(entries) == 2 * len(COMPRESSED)
    for entry in entries:  # a poisoned cache: another file's bytes, or garbage
        entry.write_bytes(entries[0].read_bytes() if entry != entries[0] else b"not compressed")
    second = make_site(tmp_path / "second")
    precompress.write_siblings(second, cache)
    assert siblings_of(second) == siblings_of(site)


def test_the_built_site_carries_siblings_listed_in_its_manifest(dist):
    files = json.loads((dist / "manifest.json").read_text())["files"]
    siblings = [rel for rel in files if rel.endswith((".br", ".gz"))]
    wasm = next(rel for rel in files if rel.endswith("/pyodide.asm.wasm"))
    assert {"index.html.br", "index.html.gz", wasm + ".br", wasm + ".gz"} <= set(siblings)
    assert not any(rel.startswith(("config.json.", "_headers.", "manifest.json.")) for rel in files)
    for rel in siblings:
        assert files[rel]["provenance"].endswith(f" of {rel[:-3]}"), rel
    assert verify(dist) == []


# --- verify ---------------------------------------------------------------------------------------


def rewrite_manifest_entry(site: Path, rel: str) -> None:
    """What someone who replaced a file would do to hide it: give the manifest its new sha256 and size."""
    manifest = json.loads((site / "manifest.json").read_text())
    data = (site / rel).read_bytes()
    manifest["files"][rel].update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    (site / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture
def site_copy(dist, tmp_path) -> Path:
    return shutil.copytree(dist, tmp_path / "dist")


def test_verify_names_a_tampered_sibling(site_copy):
    path = site_copy / "index.html.br"
    path.write_bytes(path.read_bytes()[:-1] + b"\0")
    [problem] = verify(site_copy)
    assert problem.startswith("index.html.br: sha256 ")


@pytest.mark.parametrize(
    ("replacement", "problem"),
    [
        (gzip.compress(b"<!doctype html><script src=https://tracker.example/x.js></script>"), "does not decompress"),
        (b"", "not exactly one gzip member (truncated)"),
    ],
    ids=["other-content", "empty"],
)
def test_verify_names_a_sibling_that_the_manifest_vouches_for_but_is_not_its_original(site_copy, replacement, problem):
    (site_copy / "index.html.gz").write_bytes(replacement)
    rewrite_manifest_entry(site_copy, "index.html.gz")
    [line] = verify(site_copy)
    assert line.startswith("index.html.gz: ") and problem in line, line


# --- choosing the encoding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept_encoding", "chosen"),
    [
        (None, None),  # no header: the file as it is
        ("", None),
        ("identity", None),
        ("gzip, deflate, br, zstd", "br"),  # Chromium's
        ("gzip, deflate", "gzip"),
        ("GZIP", "gzip"),
        ("x-gzip", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("br;q=0.0, gzip;q=0", None),
        ("br;q=0.5, gzip", "gzip"),  # the higher weight wins
        ("br;q=0.8, gzip;q=0.5", "br"),
        ("br;q=0.8", "br"),  # identity, not named, is the fallback
        ("br ; q=1.0 , gzip", "br"),
        ("br;q=oops, gzip", "gzip"),  # an unreadable weight is not consent
        ("*", "br"),
        ("*;q=0", None),
        ("*;q=0.5, br;q=0", "gzip"),
        ("gzip;q=0.5, identity", None),  # the file as it is, preferred
        ("gzip;q=0.5, identity;q=0.5", "gzip"),
        ("zstd", None),
    ],
)
def test_choose_encoding_follows_the_weights(accept_encoding, chosen):
    assert choose_encoding(accept_encoding, ["br", "gzip"]) == chosen


def test_choose_encoding_picks_only_what_the_file_has():
    assert choose_encoding("br, gzip", ["gzip"]) == "gzip"
    assert choose_encoding("br", ["gzip"]) is None
    assert choose_encoding("br, gzip", []) is None


# --- the servers: the tests' and benchmark's SiteHandler, and the bank's static mount --------------


def request(origin: str, path: str, accept_encoding: str | None, method: str = "GET", **extra: str):
    """One request with exactly these headers (urllib would add Accept-Encoding: identity)."""
    url = urlsplit(origin)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        if accept_encoding is not None:
            connection.putheader("Accept-Encoding", accept_encoding)
        for name, value in extra.items():
            connection.putheader(name.replace("_", "-"), value)
        connection.endheaders()
        response = connection.getresponse()
        return response, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module", params=["SiteHandler", "bank"])
def server(request, small_site, tmp_path_factory):
    """The small site served by one of the two servers; yields (which, origin)."""
    site, _ = small_site
    if request.param == "SiteHandler":
        served = Server(site)
        yield request.param, served.origin
        served.close()
        return
    config = Config(
        database=str(tmp_path_factory.mktemp("bank") / "bank.sqlite3"),
        static_dir=site,
        static_headers=headers.security_headers("api/"),
        static_cache_rules=headers.CACHE_RULES,
    )
    bank = LiveBank(config).start()
    yield request.param, bank.origin
    bank.stop()


CASES = [
    ("gzip, deflate, br, zstd", "br"),
    ("gzip", "gzip"),
    ("br;q=0, gzip", "gzip"),
    ("identity", None),
    ("gzip;q=0, br;q=0", None),
    (None, None),
]


@pytest.mark.parametrize(("accept_encoding", "coding"), CASES)
@pytest.mark.parametrize(
    ("path", "rel", "content_type"),
    [
        ("/", "index.html", "text/html"),
        ("/app.js", "app.js", "text/javascript"),
        (f"/{RUNTIME}/tiny.wasm", f"{RUNTIME}/tiny.wasm", "application/wasm"),
    ],
)
def test_server_sends_the_sibling_the_client_accepts(
    server, small_site, path, rel, content_type, accept_encoding, coding
):
    site, _ = small_site
    response, body = request(server[1], path, accept_encoding)
    assert response.status == 200
    assert response.headers["Content-Type"].split(";")[0] == content_type
    assert response.headers.get_all("Vary") == ["Accept-Encoding"], "on every file that has siblings"
    assert response.headers.get("Content-Encoding") == coding
    expected = (site / (rel + precompress.SIBLINGS[coding])) if coding else site / rel
    assert body == expected.read_bytes()
    assert int(response.headers["Content-Length"]) == len(body)
    assert response.headers["Content-Security-Policy"] == headers.content_security_policy("api/", for_header=True)


def test_server_sends_a_file_without_siblings_as_it_is_without_vary(server, small_site):
    site, _ = small_site
    response, body = request(server[1], "/config.json", "gzip, deflate, br")
    assert response.status == 200 and body == (site / "config.json").read_bytes()
    assert "Content-Encoding" not in response.headers and "Vary" not in response.headers


def test_head_describes_the_sibling_without_a_body(server, small_site):
    site, _ = small_site
    response, body = request(server[1], "/index.html", "br", method="HEAD")
    assert response.status == 200 and body == b""
    assert response.headers["Content-Encoding"] == "br"
    assert int(response.headers["Content-Length"]) == (site / "index.html.br").stat().st_size


def test_a_range_counts_the_bytes_of_the_representation_sent(server, small_site):
    """The bank honours ranges, over the sibling's bytes (RFC 9110 section 14); the stdlib server ignores
    Range and sends the whole sibling, which is also correct."""
    site, _ = small_site
    response, body = request(server[1], "/index.html", "gzip", Range="bytes=0-9")
    sibling = (site / "index.html.gz").read_bytes()
    assert response.headers["Content-Encoding"] == "gzip"
    if server[0] == "bank":
        assert response.status == 206 and body == sibling[:10]
        assert response.headers["Content-Range"] == f"bytes 0-9/{len(sibling)}"
    else:
        assert response.status == 200 and body == sibling


def test_revalidating_a_sibling_gets_304_with_vary_and_cache_control(server):
    first, _ = request(server[1], f"/{RUNTIME}/tiny.wasm", "br")
    response, body = request(server[1], f"/{RUNTIME}/tiny.wasm", "br", If_Modified_Since=first.headers["Last-Modified"])
    assert response.status == 304 and body == b""
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    ("path", "cache_control"),
    [
        ("/", "no-cache"),
        ("/config.json", "no-cache"),
        (f"/{RUNTIME}/pyodide.mjs", "public, max-age=31536000, immutable"),
        (f"/{RUNTIME}/tiny.wasm", "public, max-age=31536000, immutable"),
    ],
)
def test_server_caches_the_runtime_folder_for_a_year_and_revalidates_the_rest(server, path, cache_control):
    for accept_encoding in ("br", None):
        response, _ = request(server[1], path, accept_encoding)
        assert response.status == 200 and response.headers.get_all("Cache-Control") == [cache_control], path


def test_server_never_caches_a_missing_runtime_file_for_a_year(server):
    response, _ = request(server[1], f"/{RUNTIME}/missing.wasm", "br")
    assert response.status == 404
    assert "immutable" not in (response.headers.get("Cache-Control") or "")


# --- the rule, and the hosts' files -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "immutable"),
    [
        (f"{RUNTIME}/pyodide.asm.wasm", True),
        (f"{RUNTIME}/pyodide.asm.wasm.br", True),
        (f"/{RUNTIME}/pyodide-lock.json", True),
        (f"mirror/sub/{RUNTIME}/pyodide.mjs", True),  # a mirror at a sub-path
        ("index.html", False),
        ("config.json", False),
        ("app.js", False),
        ("manifest.json", False),
        ("pyodide/pyodide.asm.wasm", False),  # not content-addressed
        ("pyodide-0123456789ABCDEF/pyodide.mjs", False),  # lowercase hex only
        ("pyodide-0123456789abcde/pyodide.mjs", False),  # 15 digits
        ("pyodide-0123456789abcdef0/pyodide.mjs", False),  # 17 digits
        (RUNTIME, False),  # the folder itself is no file in it
        (f"x{RUNTIME}/pyodide.mjs", False),
    ],
)
def test_cache_control_is_immutable_only_inside_the_runtime_folder(path, immutable):
    expected = "public, max-age=31536000, immutable" if immutable else "no-cache"
    assert headers.cache_control(path) == expected


def test_headers_file_keeps_the_site_rules_and_caches_the_runtime_folder():
    text = headers.netlify_headers_file("api/")
    rules: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("/"):
            rules[line] = []
        else:
            rules[list(rules)[-1]].append(line.strip())
    assert list(rules) == ["/*", "/*.wasm", "/pyodide-*"]
    assert rules["/pyodide-*"] == ["Cache-Control: public, max-age=31536000, immutable"]
    assert not any(h.startswith("Cache-Control:") for h in rules["/*"]), "would be joined to the runtime's by a comma"
    assert rules["/*.wasm"] == ["Content-Type: application/wasm"]
    assert f"Content-Security-Policy: {headers.content_security_policy('api/', for_header=True)}" in rules["/*"]
