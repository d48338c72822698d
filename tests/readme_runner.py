"""The README's code blocks as a reader runs them: every shell command and Python snippet, with its line.

What runs: each command of a ```sh (or bash, shell) block, one per line (a line ending in `\\` goes on);
each `$ ` command of a ```console block, whose output must match the lines shown under it (`...` stands
for anything); each ```python block as a whole. Other blocks (http, js, nginx, the folder map) are text.

A command with the word `serve` (`python3 build.py serve`, `hashbank serve`), or a Python block naming a
`port=`, is a server: it is started on a free port instead of the one written (`--port N` is added or
replaced, `port=N` replaced), is ready when GET / or GET /api/openapi.json answers 200, and is stopped
with Ctrl-C's SIGINT. Anything fails that exits non-zero, prints a traceback, or (a server) stops before
it is ready.

A snippet that cannot run in a test (a remote host, a real PostgreSQL server) says so in an HTML comment,
invisible on GitHub, on the line(s) right before its block:

    <!-- readme-test: skip (why) -->             the whole block
    <!-- readme-test: skip "text" (why) -->      the block's commands that contain text

The reason is required, and a marker that names no command is an error (see `parse`'s problems).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

SHELL_LANGUAGES = {"sh", "bash", "shell"}
FENCE = re.compile(r"^( *)(`{3,}|~{3,})\s*([\w+-]*)")  # indented too, as in a list item
MARKER = re.compile(r"^\s*<!--\s*readme-test:(.*?)-->\s*$")
SKIP = re.compile(r'^\s*skip(?:\s+"([^"]+)")?\s+\((.*)\)\s*$')
PROBE_PATHS = ("/", "/api/openapi.json")  # the site (build.py serve, --static-dir), or the bank's API alone


@dataclass(frozen=True)
class Snippet:
    line: int  # README line where the command or block starts (1-based)
    language: str  # "sh", "console" or "python"
    code: str
    expected: str | None = None  # a console command's output as shown (`...`: anything)
    skip: str | None = None  # why it cannot run here

    @property
    def server(self) -> bool:
        if self.language == "python":
            return re.search(r"\bport=\d+", self.code) is not None
        try:
            return "serve" in shlex.split(self.code, comments=True)
        except ValueError:
            return False

    def on_port(self, port: int) -> str:
        """The code with `port` in place of the port written (or the default)."""
        if self.language == "python":
            return re.sub(r"\bport=\d+", f"port={port}", self.code)
        if re.search(r"--port[= ]\d+", self.code):
            return re.sub(r"--port([= ])\d+", rf"--port\g<1>{port}", self.code)
        return re.sub(r"(?<!\S)serve(?=\s|$)", f"serve --port {port}", self.code, count=1)

    def __str__(self) -> str:
        first = self.code.strip().splitlines()[0]
        return f"README.md line {self.line}: {first}"


@dataclass
class Readme:
    snippets: list[Snippet] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # markers the test cannot understand


def _commands(language: str, body: list[tuple[int, str]]) -> list[Snippet]:
    """The commands of a shell or console block: (line, command, shown output)."""
    found: list[list] = []  # [line, command, output lines]
    pending = ""
    for number, text in body:
        if pending:
            found[-1][1] += "\n" + text
            pending = text.endswith("\\")
            continue
        if language == "console":
            if text.startswith("$ "):
                found.append([number, text[2:], []])
            elif found:
                found[-1][2].append(text)
            else:
                continue
        elif text.strip() and not text.lstrip().startswith("#"):
            found.append([number, text, []])
        else:
            continue
        pending = found[-1][1].endswith("\\")
    return [
        Snippet(n, language, code, "\n".join(shown).strip() if language == "console" else None)
        for n, code, shown in found
    ]


def _apply_markers(snippets: list[Snippet], markers: list[tuple[int, str]], problems: list[str]) -> list[Snippet]:
    for number, directive in markers:
        skip = SKIP.match(directive)
        if not skip or not skip.group(2).strip():
            problems.append(
                f'README.md line {number}: `readme-test:{directive}` is not skip (reason) nor skip "text" (reason)'
            )
            continue
        text, reason = skip.group(1), skip.group(2).strip()
        hits = [i for i, s in enumerate(snippets) if text is None or text in s.code]
        if not hits:
            problems.append(f"README.md line {number}: no command in the next block contains {text!r}")
        for i in hits:
            snippets[i] = dataclasses.replace(snippets[i], skip=reason)
    return snippets


def parse(text: str) -> Readme:
    """The runnable snippets of a README, in order, with the markers applied."""
    readme = Readme()
    lines = text.splitlines()
    markers: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        number, line = i + 1, lines[i]
        fence = FENCE.match(line)
        marker = MARKER.match(line)
        if marker:
            markers.append((number, marker.group(1).strip()))
        elif fence:
            indent, ticks, language = fence.group(1), fence.group(2), fence.group(3).lower()
            close = next((j for j in range(i + 1, len(lines)) if lines[j].strip().startswith(ticks)), len(lines))
            body = [(j + 1, lines[j].removeprefix(indent)) for j in range(i + 1, close)]
            if language in SHELL_LANGUAGES or language == "console":
                snippets = _commands("console" if language == "console" else "sh", body)
            elif language == "python":
                snippets = [Snippet(number + 1, "python", "\n".join(t for _, t in body))]
            else:
                snippets = []
            if markers and not snippets:
                readme.problems.append(
                    f"README.md line {markers[0][0]}: a readme-test marker before a block that does not run"
                )
            else:
                readme.snippets += _apply_markers(snippets, markers, readme.problems)
            markers = []
            i = close
        elif line.strip() and markers:
            readme.problems.append(
                f"README.md line {markers[0][0]}: a readme-test marker not right before a code block"
            )
            markers = []
        i += 1
    if markers:
        readme.problems.append(f"README.md line {markers[0][0]}: a readme-test marker not right before a code block")
    return readme


def _argv(snippet: Snippet, code: str) -> list[str]:
    # `python` and `bash` as the reader's shell finds them on PATH (the test's env says which).
    return ["python", "-c", code] if snippet.language == "python" else ["bash", "-o", "pipefail", "-c", code]


def _stop(process: subprocess.Popen, timeout: float) -> None:
    """SIGINT to the process group, as Ctrl-C in a terminal; SIGKILL when it is still there after timeout."""
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _ready(port: int) -> bool:
    for path in PROBE_PATHS:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            continue
    return False


def _ellipsis_match(expected: str, output: str) -> bool:
    pattern = ".*?".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, output.strip(), re.DOTALL) is not None


def run(snippet: Snippet, cwd: Path, env: dict[str, str], timeout: float = 180, port: int | None = None) -> str | None:
    """Run one snippet as the README's reader would; None when it worked, else what went wrong (naming the
    README line and the command, with the output's end). A server needs `port`, a free one."""
    code = snippet.on_port(port) if snippet.server else snippet.code
    with tempfile.TemporaryFile("w+", errors="replace") as log:
        process = subprocess.Popen(
            _argv(snippet, code), cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        failure = None
        try:
            if snippet.server:
                deadline = time.monotonic() + timeout
                while not _ready(port):
                    if process.poll() is not None:
                        failure = f"stopped (exit status {process.returncode}) before it answered on port {port}"
                        break
                    if time.monotonic() > deadline:
                        failure = f"did not answer 200 on port {port} within {timeout:.0f} s"
                        break
                    time.sleep(0.3)
                _stop(process, timeout=30)
            else:
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    failure = f"still running after {timeout:.0f} s"
                if process.returncode:
                    failure = failure or f"exited with status {process.returncode}"
        finally:
            _stop(process, timeout=10)
        log.seek(0)
        output = log.read()
    if failure is None and "Traceback (most recent call last)" in output:
        failure = "printed a traceback"
    if failure is None and snippet.expected is not None and not _ellipsis_match(snippet.expected, output):
        failure = f"printed something other than the README shows:\n{snippet.expected}"
    if failure is None:
        return None
    return f"{snippet} -- {failure}\n--- output (end) ---\n{output[-4000:]}"
