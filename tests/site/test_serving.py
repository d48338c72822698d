"""Serving dist/: MIME types and CSP headers, `build.py serve`, any sub-path, and the README's mirror snippets."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import localhash
from site_build import headers, precompress
from site_build.dist import runtime_dir
from site_build.system import NGINX_BROTLI_STATIC, free_port
from tests.conftest import PDQ_IMAGES, ROOT, require_corpus
from tests.site.conftest import RUNTIME, Server, hash_in_page, make_site

CSP = headers.content_security_policy("api/", for_header=True)


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()


def test_wasm_is_served_as_application_wasm_and_modules_as_javascript(site, dist):
    runtime = runtime_dir(dist).name
    status, head, body = fetch(f"{site.url}{runtime}/pyodide.asm.wasm")
    assert status == 200 and head["content-type"] == "application/wasm"
    assert body[:4] == b"\0asm"
    for module in ("worker.js", f"{runtime}/pyodide.mjs", f"{runtime}/pyodide.asm.js"):
        assert fetch(site.url + module)[1]["content-type"] == "text/javascript", module


@pytest.mark.parametrize("path", ["", "index.html", "worker.js"])
def test_csp_header_with_frame_ancestors_is_on_the_page_and_the_worker(site, path):
    _, head, _ = fetch(site.url + path)
    assert head["content-security-policy"] == CSP
    assert "frame-ancestors 'none'" in head["content-security-policy"]
    assert head["x-content-type-options"] == "nosniff"


def wait_until_up(url: str, process: subprocess.Popen, log: Path, seconds: float = 60) -> str:
    """Poll url until it answers; fail with the server's log when it exits or stays silent."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fetch(url)
            return url
        except (urllib.error.URLError, ConnectionError):
            assert process.poll() is None, f"the server exited early:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no answer from {url} within {seconds} s:\n{log.read_text()}"
            time.sleep(0.2)


def test_build_py_serve_builds_and_serves_the_site(tmp_path):
    port = free_port()
    out = tmp_path / "dist"
    log = tmp_path / "serve.log"
    with open(log, "w") as log_file:
        server = subprocess.Popen(
            [
                sys.executable,
                "build.py",
                "--out",
                str(out),
                "serve",
                "--port",
                str(port),
                "--database",
                str(tmp_path / "bank.sqlite3"),
            ],
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        url = wait_until_up(f"http://127.0.0.1:{port}/", server, log)
        status, head, body = fetch(url)
        assert status == 200 and b"<title" in body
        assert not re.search(rb"<script(?![^>]*\bsrc=)", body), "inline script in the served page"
        assert head["content-security-policy"] == CSP
        assert fetch(f"{url}{runtime_dir(out).name}/pyodide.asm.wasm")[1]["content-type"] == "application/wasm"
        assert (out / "manifest.json").exists()
        # The embedded hash bank answers on the same origin.
        case = urllib.request.Request(
            url + "api/v1/cases",
            data=json.dumps(
                {
                    "pin": "135790",
                    "hashes": [{"type": "md5", "value": "0a21c8f85a55a9e276ffc2c53f6887c4"}],
                    "consent": {"adult": True, "depicted": True, "intimate": True, "share_hashes": True},
                }
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(case, timeout=10) as response:
            assert response.status == 201 and json.loads(response.read())["case_number"]
        assert (tmp_path / "bank.sqlite3").exists()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_site_works_from_a_sub_path(dist, browser, tmp_path):
    """Served as /mirror/sub/ of some host, the page loads, the worker boots and hashes: every path is relative."""
    require_corpus()
    shutil.copytree(dist, tmp_path / "mirror" / "sub")
    server = Server(tmp_path, prefix="mirror/sub/")
    context = browser.new_context()
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    try:
        page = context.new_page()
        page.goto(server.url)
        page.evaluate("window.localhash.ready")
        data = (PDQ_IMAGES / "pytx-resources" / "LA.png").read_bytes()
        assert hash_in_page(page, data) == localhash.hash_bytes(data)
    finally:
        context.close()
        server.close()
    wasm = f"/mirror/sub/{runtime_dir(dist).name}/pyodide.asm.wasm"
    assert any(url.endswith(wasm) for url in requests), "the worker's requests"
    outside = [url for url in requests if not url.startswith(server.url)]
    assert outside == [], "every request stays under the sub-path"


# --- the README's "Mirroring the site" section -------------------------------------------------


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def code_blocks(section: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```$", section, re.M | re.S)


NGINX = Path("/usr/sbin/nginx")
NGINX_CONF = """{modules}daemon off;
master_process off;
pid {tmp}/nginx.pid;
events {{}}
http {{
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log off;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp}; uwsgi_temp_path {tmp};
  scgi_temp_path {tmp};
  server {{
    listen 127.0.0.1:{port};
{site}
  }}
}}
"""


@contextlib.contextmanager
def nginx_serving(root: Path, tmp_path: Path, where: str, snippet: str, modules: str = "") -> Iterator[str]:
    """Real nginx serving `root` with the snippet, at the server level or in a sub-path location; yields the URL."""
    if not NGINX.exists():
        pytest.fail(f"{NGINX} is missing: `python3 build.py test` installs Debian's nginx-light")
    if where == "server":
        site, prefix = f"    root {root};\n{snippet}", ""
    else:
        (tmp_path / "www" / "mirror").mkdir(parents=True)
        (tmp_path / "www" / "mirror" / "sub").symlink_to(root)
        site, prefix = f"    location /mirror/sub/ {{\n      root {tmp_path / 'www'};\n{snippet}    }}\n", "mirror/sub/"
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(modules=modules, tmp=tmp_path, port=port, site=site))
    log = tmp_path / "error.log"
    nginx = subprocess.Popen([NGINX, "-e", log, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        yield wait_until_up(f"http://127.0.0.1:{port}/{prefix}", nginx, log)
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)


def fetch_encoded(url: str, accept_encoding: str) -> tuple[dict[str, str], bytes]:
    """The response as sent (urllib decodes nothing), its headers lowercased."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": accept_encoding})
    with urllib.request.urlopen(request, timeout=10) as response:
        return {k.lower(): v for k, v in response.headers.items()}, response.read()


@pytest.mark.parametrize("where", ["server", "sub-path location"])
def test_readme_nginx_snippet_serves_the_right_types_and_headers(dist, tmp_path, where):
    """Real nginx with the snippet as the README prints it: at the server level, and in a sub-path location."""
    with nginx_serving(dist, tmp_path, where, headers.nginx_snippet("api/")) as url:
        expected_types = {
            "": "text/html",
            "index.html": "text/html",
            "worker.js": "application/javascript",
            f"{runtime_dir(dist).name}/pyodide.mjs": "text/javascript",
            f"{runtime_dir(dist).name}/pyodide.asm.wasm": "application/wasm",
            f"{runtime_dir(dist).name}/pyodide-lock.json": "application/json",
            "style.css": "text/css",
        }
        for path, content_type in expected_types.items():
            _, head, _ = fetch(url + path)
            assert head["content-type"].split(";")[0] == content_type, path
            assert head["content-security-policy"] == CSP, path
            assert head["x-content-type-options"] == "nosniff", path
        # gzip_static: the build's .gz, as it is, to a client that accepts gzip; Vary either way.
        wasm = next(dist.rglob("pyodide.asm.wasm")).relative_to(dist).as_posix()
        for path, content_type in (("index.html", "text/html"), (wasm, "application/wasm")):
            head, body = fetch_encoded(url + path, "gzip, deflate")
            assert head["content-encoding"] == "gzip" and body == (dist / (path + ".gz")).read_bytes(), path
            assert head["content-type"].split(";")[0] == content_type and head["vary"] == "Accept-Encoding", path
            _, head, body = fetch(url + path)  # urllib says Accept-Encoding: identity
            assert "content-encoding" not in head and body == (dist / path).read_bytes(), path
            assert head["vary"] == "Accept-Encoding", path


@pytest.mark.parametrize("brotli_static", ["absent", "loaded"])
@pytest.mark.parametrize("where", ["server", "sub-path location"])
def test_readme_nginx_snippet_caches_the_runtime_folder_and_sends_brotli_where_nginx_can(
    tmp_path, where, brotli_static
):
    """The snippet as printed works on a stock nginx (brotli_static commented out: gzip for everyone who
    accepts it); with the ngx_brotli module loaded and the line uncommented, brotli where accepted."""
    site = make_site(tmp_path / "site")
    precompress.write_siblings(site)
    snippet, modules = headers.nginx_snippet("api/"), ""
    if brotli_static == "loaded":
        if not Path(NGINX_BROTLI_STATIC).exists():
            pytest.fail(f"{NGINX_BROTLI_STATIC} is missing: `python3 build.py test` installs it")
        assert "# brotli_static on;" in snippet
        snippet, modules = (
            snippet.replace("# brotli_static on;", "brotli_static on;"),
            f"load_module {NGINX_BROTLI_STATIC};\n",
        )
    chromium = "gzip, deflate, br, zstd"
    with nginx_serving(site, tmp_path, where, snippet, modules) as url:
        for path, content_type in (
            ("index.html", "text/html"),
            (f"{RUNTIME}/pyodide.mjs", "text/javascript"),
            (f"{RUNTIME}/tiny.wasm", "application/wasm"),
        ):
            coding = "br" if brotli_static == "loaded" else "gzip"
            for accept_encoding, sent in ((chromium, coding), ("br;q=0, gzip", "gzip"), ("identity", None)):
                head, body = fetch_encoded(url + path, accept_encoding)
                assert head.get("content-encoding") == sent, (path, accept_encoding)
                suffix = precompress.SIBLINGS[sent] if sent else ""
                assert body == (site / (path + suffix)).read_bytes(), (path, accept_encoding)
                assert head["content-type"].split(";")[0] == content_type, path
                assert head["vary"] == "Accept-Encoding", path
                assert head["cache-control"] == headers.cache_control(path), path
                assert head["content-security-policy"] == CSP and head["x-frame-options"] == "DENY", path
        with pytest.raises(urllib.error.HTTPError) as missing:
            fetch(url + f"{RUNTIME}/missing.wasm")
        assert missing.value.code == 404 and "immutable" not in (missing.value.headers["Cache-Control"] or "")


def test_readme_snippets_are_what_headers_py_generates():
    blocks = code_blocks(readme_section("Mirroring the site"))
    assert headers.netlify_headers_file("api/") in blocks
    assert headers.nginx_snippet("api/") in blocks
    assert headers.apache_snippet("api/") in blocks


def test_the_bank_serves_a_site_with_the_sites_cache_rule_by_default():
    from hashbank.config import Config

    assert Config().static_cache_rules == headers.CACHE_RULES
