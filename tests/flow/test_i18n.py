"""Every string of the page lives in web/i18n/<lang>.json: none missing, none unused, same placeholders
in every language, and the English inline in index.html (first paint, no JavaScript) equal to en.json."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from tests.conftest import ROOT

WEB = ROOT / "web"
LANGUAGES = ["en", "nl", "fr", "de"]
KEY = r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
SCRIPTS = ["app.js", "exit.js", "files.js", "i18n.js", "review.js", "receipt.js", "status.js"]


def strings(lang: str) -> dict[str, str]:
    return json.loads((WEB / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


ENGLISH = strings("en")
NAMESPACES = {key.split(".")[0] for key in ENGLISH}


class Inline(HTMLParser):
    """index.html's elements that carry data-i18n / data-i18n-label, with their inline text."""

    VOID = {"meta", "link", "input", "br", "img", "hr", "source"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[dict] = []
        self.texts: dict[str, list[str]] = {}
        self.labels: dict[str, str] = {}
        self.nested: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-i18n-label" in attrs:
            self.labels[attrs["data-i18n-label"]] = attrs.get("aria-label", "")
        if any(open_["key"] for open_ in self.stack):
            self.nested.append(tag)  # translating would replace this child element with text
        if tag not in self.VOID:
            self.stack.append({"tag": tag, "key": attrs.get("data-i18n"), "text": []})

    def handle_endtag(self, tag):
        while self.stack:
            element = self.stack.pop()
            if element["key"]:
                self.texts.setdefault(element["key"], []).append(" ".join("".join(element["text"]).split()))
            if element["tag"] == tag:
                break

    def handle_data(self, data):
        for element in self.stack:
            element["text"].append(data)


@pytest.fixture(scope="module")
def inline() -> Inline:
    parser = Inline()
    parser.feed((WEB / "index.html").read_text(encoding="utf-8"))
    return parser


def keys_in_scripts() -> set[str]:
    found = set()
    for name in SCRIPTS:
        source = (WEB / name).read_text(encoding="utf-8")
        for literal in re.findall(rf'"({KEY})"', source):
            if literal.split(".")[0] in NAMESPACES:
                found.add(literal)
        # A key built at run time (`error.${code}`) would be invisible to this test.
        for template in re.findall(r"`([a-z_]+)\.\$\{", source):
            assert template not in NAMESPACES, f"{name}: build keys from whole literals, not `{template}.${{...}}`"
    return found


def test_every_language_has_exactly_the_english_keys():
    for lang in LANGUAGES:
        table = strings(lang)
        assert set(table) == set(ENGLISH), (lang, sorted(set(table) ^ set(ENGLISH)))
        for key, text in table.items():
            assert isinstance(text, str) and text.strip() == text and text, (lang, key)


def test_placeholders_are_the_same_in_every_language():
    for lang in LANGUAGES:
        table = strings(lang)
        for key, text in ENGLISH.items():
            assert set(PLACEHOLDER.findall(table[key])) == set(PLACEHOLDER.findall(text)), (lang, key)


def test_no_key_is_missing_or_unused(inline):
    used = set(inline.texts) | set(inline.labels) | keys_in_scripts()
    missing = sorted(used - set(ENGLISH))
    unused = sorted(set(ENGLISH) - used)
    assert missing == [], f"used but in no language file: {missing}"
    assert unused == [], f"in the language files but used nowhere: {unused}"


def test_index_html_english_equals_en_json(inline):
    for key, texts in inline.texts.items():
        for text in texts:
            assert text == ENGLISH[key], key
    for key, label in inline.labels.items():
        assert label == ENGLISH[key], key
    assert inline.nested == [], "an element with data-i18n must hold text only"


def test_this_test_sees_what_it_checks(inline):
    # The checks above would pass vacuously if the parsing found nothing.
    assert len(inline.texts) > 50 and "intro.title" in inline.texts and "noscript.text" in inline.texts
    assert {"files.working", "error.corrupt_image", "report.blocked", "status.state.withdrawn"} <= keys_in_scripts()
