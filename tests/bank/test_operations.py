"""README's "Running the bank in production" as printed: its systemd units checked by systemd-analyze, its
commands parsed by hashbank's own parser, and its nginx server block run with TLS in front of `hashbank serve`."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import shlex
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from hashbank.cli import parser
from hashbank.config import ENV_METRICS_TOKEN
from hashbank.validation import CASE_BODY_LIMIT, PARTNER_BODY_LIMIT, VICTIM_BODY_LIMIT
from site_build.system import free_port
from tests.conftest import ROOT

from .conftest import ServerProcess, case_body, hex_of

README = (ROOT / "README.md").read_text()
SECTION = README[README.index("### Running the bank in production") : README.index("### Tests and measurements")]
NGINX = Path("/usr/sbin/nginx")
SYSTEMD_ANALYZE = Path("/usr/bin/systemd-analyze")
OPENSSL = Path("/usr/bin/openssl")
INSTALLED = "/opt/hashbank/current/bin/hashbank"  # where the README installs the `hashbank` command
# systemd-analyze security rates a unit from 0 (locked down) to 10; under 2 is its "OK"
# (src/analyze/analyze-security.c: exposure levels), a default unit scores 9.6.
MAX_EXPOSURE = 2.0


def blocks(language: str) -> list[str]:
    """The bodies of the section's fenced blocks in this language, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```$", SECTION, re.M | re.S)


def units() -> dict[str, str]:
    """The systemd units the section prints, by file name (their first line names their path)."""
    found = {}
    for body in blocks("ini"):
        first = re.fullmatch(r"# /etc/systemd/system/(\S+)", body.splitlines()[0])
        if first:
            found[first.group(1)] = body
    return found


def require(program: Path, package: str) -> None:
    if not program.exists():
        pytest.fail(f"{program} is missing: `python3 build.py test` installs Debian's {package}")


def written_units(tmp_path: Path) -> list[Path]:
    """The units in a folder, ExecStart's `hashbank` replaced by one that exists (verify checks it is there)."""
    command = tmp_path / "hashbank"
    command.write_text(f'#!/bin/sh\nPYTHONPATH={ROOT / "py"} exec {sys.executable} -m hashbank "$@"\n')
    command.chmod(0o755)
    paths = []
    for name, body in units().items():
        (tmp_path / name).write_text(body.replace(INSTALLED, str(command)))
        paths.append(tmp_path / name)
    return paths


def test_the_section_prints_the_service_its_backup_and_the_timer():
    assert set(units()) == {"hashbank.service", "hashbank-backup.service", "hashbank-backup.timer"}
    service = units()["hashbank.service"]
    for line in (
        "User=hashbank",
        "EnvironmentFile=/etc/hashbank/env",
        "StateDirectory=hashbank",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "Restart=on-failure",
        "UMask=0077",
    ):
        assert f"\n{line}\n" in service, line
    env = next(body for body in blocks("ini") if body.startswith("# /etc/hashbank/env"))
    names = {line.split("=")[0].lstrip("# ") for line in env.splitlines() if re.match(r"#? ?[A-Z_]+=", line)}
    assert names == {"DATABASE_URL", ENV_METRICS_TOKEN, "FORWARDED_ALLOW_IPS"}


def test_systemd_analyze_verify_accepts_the_units_and_would_see_a_mistake(tmp_path):
    require(SYSTEMD_ANALYZE, "systemd")
    paths = written_units(tmp_path)
    verify = subprocess.run([SYSTEMD_ANALYZE, "verify", *paths], capture_output=True, text=True, timeout=60)
    # Unknown keys and bad values are warnings on stderr with exit status 0: nothing at all may be said.
    assert verify.returncode == 0 and verify.stderr == "" and verify.stdout == "", verify.stderr + verify.stdout

    service = tmp_path / "hashbank.service"
    service.write_text(service.read_text().replace("ProtectSystem=strict", "ProtectSystm=strict"))
    broken = subprocess.run([SYSTEMD_ANALYZE, "verify", service], capture_output=True, text=True, timeout=60)
    assert "Unknown key 'ProtectSystm'" in broken.stderr


def test_the_service_is_hardened(tmp_path):
    require(SYSTEMD_ANALYZE, "systemd")
    written_units(tmp_path)
    rated = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=yes", tmp_path / "hashbank.service"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    level = re.search(r"Overall exposure level for hashbank\.service: ([0-9.]+)", rated.stdout)
    assert level, rated.stdout + rated.stderr
    assert float(level.group(1)) <= MAX_EXPOSURE, rated.stdout


def test_every_hashbank_command_of_the_section_is_one_hashbank_understands():
    """ExecStart lines and the operator's `bank …` commands (skipped by the README runner: they need root,
    systemd and the hashbank user) are parsed by `hashbank`'s own argument parser."""
    commands = [m.group(1) for body in units().values() for m in re.finditer(rf"{INSTALLED} ([^'\n]+)", body)]
    # systemd's `$$(date +%%F)` is the shell's `$(date +%F)`: a date, as far as the arguments go
    commands = [re.sub(r"\$\$\(date [^)]*\)", "2026-03-01", command) for command in commands]
    commands += [
        line.strip()[len("bank ") :]
        for body in blocks("sh")
        for line in body.splitlines()
        if line.strip().startswith("bank ")
    ]
    commands += re.findall(r"`bank (restore [^`]+)`", SECTION)
    assert len(commands) >= 7, commands
    seen = set()
    for command in commands:
        args = parser().parse_args(shlex.split(command, comments=True))  # exits (status 2) on an unknown option
        seen.add(args.command if args.command != "partner" else f"partner {args.action}")
    assert {"serve", "backup", "restore", "migrate", "partner rotate", "partner list"} <= seen


def client_seen_by_uvicorn(trusted: str, forwarded: str) -> str:
    """The client address uvicorn's proxy-headers middleware gives the app for a request from 127.0.0.1."""
    seen = {}

    async def app(scope, receive, send):
        seen["client"] = scope["client"][0]

    scope = {"type": "http", "client": ("127.0.0.1", 40000), "headers": [(b"x-forwarded-for", forwarded.encode())]}
    asyncio.run(ProxyHeadersMiddleware(app, trusted_hosts=trusted)(scope, None, None))
    return seen["client"]


def test_uvicorn_reads_x_forwarded_for_as_the_section_says():
    default = "127.0.0.1,::1"  # uvicorn's FORWARDED_ALLOW_IPS default (uvicorn/config.py)
    assert client_seen_by_uvicorn(default, "203.0.113.9") == "203.0.113.9"  # what nginx's `set` sends
    # Appended: the rightmost address that is not a trusted proxy ...
    assert client_seen_by_uvicorn(default, "198.51.100.1, 203.0.113.9") == "203.0.113.9"
    # ... but with `*`, the leftmost: the one the client wrote itself.
    assert client_seen_by_uvicorn("*", "198.51.100.1, 203.0.113.9") == "198.51.100.1"


# -- the nginx block, for real -----------------------------------------------------------------------------

NGINX_CONF = """daemon off;
master_process off;
pid {tmp}/nginx.pid;
events {{}}
http {{
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  include {site};
}}
"""


def site_block(tmp_path: Path, bank_port: int, http_port: int, https_port: int) -> str:
    """The README's server block with this test's ports, certificate and log (each replacement must apply)."""
    (body,) = [b for b in blocks("nginx") if b.startswith("# /etc/nginx/sites-enabled/hashbank")]
    replacements = [
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{bank_port};"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("/etc/letsencrypt/live/bank.example.org/fullchain.pem", str(tmp_path / "cert.pem")),
        ("/etc/letsencrypt/live/bank.example.org/privkey.pem", str(tmp_path / "key.pem")),
        ("/var/log/nginx/hashbank.error.log", str(tmp_path / "hashbank.error.log")),
    ]
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in body  # set, not appended: see the README
    for old, new in replacements:
        assert old in body, old
        body = body.replace(old, new)
    # The machine running the tests may have no IPv6: the [::] listeners go.
    return re.sub(r"^ *listen \[::\]:.*\n", "", body, flags=re.M)


def certificate(tmp_path: Path) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1 (nginx's), and a client context that trusts only it."""
    require(OPENSSL, "openssl")
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=bank.example.org"]
        + ["-addext", "subjectAltName=DNS:bank.example.org,IP:127.0.0.1"]
        + ["-keyout", tmp_path / "key.pem", "-out", tmp_path / "cert.pem"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return ssl.create_default_context(cafile=tmp_path / "cert.pem")


class Client:
    """HTTPS requests to nginx from one loopback address (all of 127.0.0.0/8 is this machine)."""

    def __init__(self, port: int, context: ssl.SSLContext, source: str) -> None:
        self.port, self.context, self.source = port, context, source

    def send(self, method: str, path: str, body: bytes | dict | None = None, **headers: str):
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.context, source_address=(self.source, 0), timeout=30
        )
        try:
            data = json.dumps(body).encode() if isinstance(body, dict) else body
            connection.request(method, path, body=data, headers={"Content-Type": "application/json", **headers})
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type"), response.read()
        finally:
            connection.close()


def test_nginx_in_front_of_the_bank_passes_the_real_client_and_the_bodies_the_bank_takes(tmp_path, monkeypatch):
    require(NGINX, "nginx-light")
    context = certificate(tmp_path)
    token = "operations-metrics-token-0123456789"
    monkeypatch.setenv(ENV_METRICS_TOKEN, token)
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)  # uvicorn's default: nginx on 127.0.0.1 is trusted
    bank = ServerProcess(str(tmp_path / "bank.sqlite3"), tmp_path / "bank.log", "--create-limit", "1")
    http_port, https_port = free_port(), free_port()
    (tmp_path / "site.conf").write_text(site_block(tmp_path, bank.port, http_port, https_port))
    (tmp_path / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp_path, site=tmp_path / "site.conf"))
    startup_log = tmp_path / "nginx.log"
    check = subprocess.run([NGINX, "-t", "-e", startup_log, "-c", tmp_path / "nginx.conf"], capture_output=True)
    assert check.returncode == 0, check.stderr.decode()
    nginx = subprocess.Popen([NGINX, "-e", startup_log, "-c", tmp_path / "nginx.conf"], stderr=subprocess.STDOUT)
    one, other = Client(https_port, context, "127.0.0.2"), Client(https_port, context, "127.0.0.3")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, kind, body = one.send("GET", "/healthz")
                break
            except ConnectionError:
                assert nginx.poll() is None and time.monotonic() < deadline, startup_log.read_text()
                time.sleep(0.1)
        assert (status, kind, json.loads(body)) == (200, "application/json", {"ok": True})

        # One case an hour per client: a forged X-Forwarded-For neither buys a second case nor spends another
        # client's; the other address has its own case, so the bank sees each client, not nginx.
        created = one.send("POST", "/api/v1/cases", case_body([{"type": "pdq", "value": hex_of(1, 64)}]))
        assert created[0] == 201, created
        forged = {"X-Forwarded-For": "198.51.100.7"}
        again = one.send("POST", "/api/v1/cases", case_body([{"type": "pdq", "value": hex_of(2, 64)}]), **forged)
        assert again[0] == 429 and json.loads(again[2])["error"]["code"] == "rate_limited", again
        claims_one = {"X-Forwarded-For": "127.0.0.2"}
        third = case_body([{"type": "pdq", "value": hex_of(3, 64)}])
        elsewhere = other.send("POST", "/api/v1/cases", third, **claims_one)
        assert elsewhere[0] == 201, elsewhere

        # The bank's body limits: a body of exactly the limit reaches the bank (which answers for itself),
        # one byte more is refused by nginx in the bank's error shape.
        for path, limit, answer_at_limit in (
            ("/api/v1/cases", CASE_BODY_LIMIT, (400, "bad_json")),
            ("/api/v1/cases/0000/status", VICTIM_BODY_LIMIT, (400, "bad_json")),
            ("/v1/SubmitFeedback", PARTNER_BODY_LIMIT, (401, "unauthorized")),
        ):
            status, _, body = other.send("POST", path, b"x" * limit)
            assert (status, json.loads(body)["error"]["code"]) == answer_at_limit, (path, body)
            status, kind, body = other.send("POST", path, b"x" * (limit + 1))
            assert (status, kind, json.loads(body)["error"]["code"]) == (413, "application/json", "too_large")

        # /metrics: refused by nginx to anyone but the Prometheus address, even with the token ...
        assert one.send("GET", "/metrics", Authorization=f"Bearer {token}")[0] == 403
        # ... which the bank itself would have taken: its counts show the one refusal above.
        scrape = requests.get(bank.url + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert scrape.status_code == 200
        assert re.search(r'hashbank_errors_total\{code="rate_limited",route="/api/v1/cases"\} 1\.0', scrape.text)

        plain = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        plain.request("GET", "/healthz", headers={"Host": "bank.example.org"})
        redirect = plain.getresponse()
        assert (redirect.status, redirect.getheader("Location")) == (301, "https://bank.example.org/healthz")
        plain.close()

        bank.stop()
        status, kind, body = one.send("GET", "/healthz")
        assert (status, kind, json.loads(body)["error"]["code"]) == (503, "application/json", "unavailable")
    finally:
        bank.stop()
        nginx.terminate()
        nginx.wait(timeout=10)
    # nginx failed to reach the bank just now; at crit its log holds no line about it, so no client address.
    for address in ("127.0.0.2", "127.0.0.3", "198.51.100.7"):
        assert address not in (tmp_path / "hashbank.error.log").read_text()
