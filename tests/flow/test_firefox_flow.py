"""A shorter run of the flow in Firefox (Debian's firefox-esr over WebDriver BiDi, puppeteer-core)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from localhash.match import KINDS
from site_build.system import ensure_node_modules
from tests.conftest import ROOT, require_corpus

from .driver import IMAGE, PIN, PNG, VIDEO, as_stored

FIREFOX = Path("/usr/bin/firefox-esr")
SCRIPT = Path(__file__).with_name("firefox_flow.mjs")
FILES = [IMAGE, PNG, VIDEO]


@pytest.fixture(scope="module")
def firefox_flow(served):
    require_corpus()
    if not FIREFOX.exists():
        pytest.fail(f"{FIREFOX} is missing: `python3 build.py test` installs Debian's firefox-esr")
    ensure_node_modules(ROOT)
    cases_before = served.count("cases")
    result = subprocess.run(
        ["node", SCRIPT, served.url, PIN, *map(str, FILES)], cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, f"firefox_flow.mjs failed:\n{result.stderr[-4000:]}"
    run = json.loads(result.stdout)
    run["new_cases"] = served.count("cases") - cases_before
    return run


def test_the_flow_runs_in_firefox_in_the_browsers_language(firefox_flow):
    assert "Firefox/" in firefox_flow["userAgent"]
    assert firefox_flow["errors"] == []
    assert firefox_flow["lang"] == "nl"
    assert all("ok" in state.split() for state in firefox_flow["fileStates"]), firefox_flow["fileStates"]
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){4}", firefox_flow["caseNumber"])
    assert firefox_flow["states"] == ["received", "withdrawn"]
    assert firefox_flow["new_cases"] == 1


def test_what_the_bank_holds_is_what_the_page_showed(firefox_flow, served):
    shown = firefox_flow["shown"]
    assert list(shown) == ["hashes", "consent"]
    # A hash's kind is one of localhash's fixed names: it can carry nothing of the picture.
    assert all(set(h) <= {"type", "value", "quality", "kind"} for h in shown["hashes"])
    assert all(h["kind"] in KINDS for h in shown["hashes"] if "kind" in h)
    # The video's vPDQ from Firefox's RGB frames (vpdq_path "rgba") goes too, where Firefox decodes H.264
    # (the system's libavcodec, which `build.py test` installs).
    assert {h["type"] for h in shown["hashes"]} == {"pdq", "vpdq", "md5", "sha256"}
    answer = requests.post(
        f"{served.origin}/api/v1/cases/{firefox_flow['caseNumber']}/status", json={"pin": PIN}, timeout=10
    ).json()
    assert answer["status"] == "withdrawn"
    stored = sorted((h["type"], h["value"], h.get("quality")) for h in answer["hashes"])
    assert stored == as_stored(shown["hashes"])


def test_firefox_made_only_same_origin_requests(firefox_flow, served):
    paths = []
    for request in firefox_flow["requests"]:
        if request["url"].startswith(f"blob:{served.origin}/"):
            continue  # thumbnails: the person's file in memory
        if request["url"].startswith("data:"):
            continue  # carries its own bytes, reaches no one (Firefox reports a built-in data: font)
        url = urlsplit(request["url"])
        assert f"{url.scheme}://{url.netloc}" == served.origin, request["url"]
        assert not any(f.name in request["url"] for f in FILES)
        if request["method"] != "GET":
            paths.append(url.path)
    case = f"/api/v1/cases/{firefox_flow['caseNumber']}"
    assert paths == ["/api/v1/cases", f"{case}/status", f"{case}/withdraw", f"{case}/status"]
