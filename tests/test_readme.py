"""The README is executable: every shell command and Python snippet in its code blocks runs, one test per
snippet named by its README line (issue 15; tests/readme_runner.py says what runs and how markers skip).

The reader the README assumes: at the root of a clone of the project, with ../shared/corpus beside it, in
an activated venv where `pip install ".[bank]"` ran (so `python`, `pip`, `localhash` and `hashbank` are
that venv's), dist/ built. The test gives every snippet exactly that, in a temporary copy of the tree
(what git tracks, plus new files), so nothing a command writes (dist/, data/, build/) touches the project.
The copy links .venv/, node_modules/ and .cache/ to the project's own, so `python3 build.py build` reuses
the cached bytecode and compression (about 3 s instead of 4 minutes) and installs nothing. The venv sees
.venv/'s packages through a .pth file, so `pip install` builds and installs localhash from the copy
without downloading its dependencies again (tests/core/test_package.py installs from the index).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from site_build.system import free_port
from tests.conftest import CORPUS, ROOT
from tests.readme_runner import Readme, Snippet, parse, run

README = parse((ROOT / "README.md").read_text())


def _tree_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    return [name for name in listed.decode().split("\0") if name]


@pytest.fixture(scope="module")
def reader(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """(the copy's root, the environment) in which the README's commands run."""
    from site_build.dist import build

    base = tmp_path_factory.mktemp("readme")
    root = base / "localhash"
    for name in _tree_files():
        source = ROOT / name
        if source.is_file() and not source.is_symlink():  # a tracked file deleted in the tree is not copied
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(source.read_bytes())
            (root / name).chmod(source.stat().st_mode)
    (ROOT / ".cache").mkdir(exist_ok=True)
    for name in (".venv", "node_modules", ".cache"):
        if (ROOT / name).exists():
            (root / name).symlink_to((ROOT / name).resolve())
    (base / "shared").symlink_to(CORPUS.parent.resolve(), target_is_directory=True)
    # Fills the cache the build shares with tests/site (4 minutes when cold), so that no README command
    # waits for it, and gives `verify dist/` and the embedding snippet a site when run alone.
    build(ROOT, root / "dist")

    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    purelib = subprocess.run(
        [venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    shared = Path(sysconfig.get_paths()["purelib"]).resolve()  # .venv/'s packages, the pins the tests run
    Path(purelib, "_readme_shares_dot_venv.pth").write_text(f"{shared}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "DATABASE_URL")}
    env = {k: v for k, v in env.items() if not k.startswith("HASHBANK_")}
    env.update(VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    # What the README's `pip install ".[bank]"` gives, so a snippet run alone (-k) finds hashbank too.
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, ".[bank]"], cwd=root, env=env, check=True, timeout=300)
    return root, env


@pytest.mark.parametrize("snippet", README.snippets, ids=lambda s: f"line{s.line}")
def test_readme_snippet_runs(snippet: Snippet, reader):
    if snippet.skip:
        pytest.skip(f"{snippet}: {snippet.skip}")
    root, env = reader
    failure = run(snippet, root, env, port=free_port() if snippet.server else None)
    assert failure is None, failure


def test_readme_markers_are_understood():
    assert README.problems == []
    assert sum(1 for s in README.snippets if not s.skip) >= 10, "the README's commands were not found"


# The runner on a small README of its own: it must fail where a reader would see a failure.

SYNTHETIC = textwrap.dedent(
    """\
    # Example

    ```sh
    true              # fine
    false             # exits 1
    python3 -c 'import sys; print("Traceback (most recent call last):", file=sys.stderr)'
    echo one \\
        two
    python3 server.py serve           # a server that answers
    python3 server.py serve --port 1  # a server on another port, as written
    sh -c 'exit 3' serve              # a "server" that stops at once
    ```

    <!-- readme-test: skip "remote" (needs a remote host) -->
    ```sh
    ssh remote.example.org true
    echo local
    ```

    ```console
    $ echo 2
    2
    $ echo '{"a": 1, "b": 2}'
    {"a": ..., "b": 2}
    $ echo 3
    2
    ```

    <!-- readme-test: skip (a whole block) -->
    ```python
    raise SystemExit(1)
    ```

    ```python
    import json
    json.loads("{")
    ```

    ```http
    GET / HTTP/1.1
    ```

    - in a list item:

      ```sh
      echo indented
      ```
    """
)

SERVER = """\
import argparse, http.server
parser = argparse.ArgumentParser()
parser.add_argument("command")
parser.add_argument("--port", type=int, default=8000)
port = parser.parse_args().port
try:
    http.server.HTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler).serve_forever()
except KeyboardInterrupt:
    pass
"""


def test_the_runner_fails_where_a_reader_would_see_a_failure(tmp_path):
    readme = parse(SYNTHETIC)
    assert readme.problems == []
    by_line = {s.line: s for s in readme.snippets}
    assert [s.line for s in readme.snippets] == [4, 5, 6, 7, 9, 10, 11, 16, 17, 21, 23, 25, 31, 35, 46]
    assert by_line[7].code == "echo one \\\n    two" and by_line[46].code == "echo indented"
    assert by_line[16].skip == "needs a remote host" and by_line[17].skip is None
    assert by_line[31].skip == "a whole block" and by_line[35].skip is None
    assert [s.line for s in readme.snippets if s.server] == [9, 10, 11]
    assert by_line[10].on_port(4321).startswith("python3 server.py serve --port 4321")

    (tmp_path / "server.py").write_text(SERVER)
    env = dict(os.environ)

    def outcome(line: int) -> str | None:
        snippet = by_line[line]
        return run(snippet, tmp_path, env, timeout=30, port=free_port() if snippet.server else None)

    for line in (4, 7, 9, 10, 17, 21, 23, 46):
        assert outcome(line) is None, outcome(line)
    failures = {line: outcome(line) for line in (5, 6, 11, 25, 35)}
    assert failures[5].startswith("README.md line 5: false") and "exited with status 1" in failures[5]
    assert "printed a traceback" in failures[6]
    assert "stopped (exit status 3) before it answered" in failures[11]
    assert "other than the README shows" in failures[25]
    assert "README.md line 35" in failures[35] and "JSONDecodeError" in failures[35]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<!-- readme-test: skip -->\n```sh\ntrue\n```\n", "is not skip (reason)"),
        ("<!-- readme-test: skip () -->\n```sh\ntrue\n```\n", "is not skip (reason)"),
        ("<!-- readme-test: run (why) -->\n```sh\ntrue\n```\n", "is not skip (reason)"),
        ('<!-- readme-test: skip "gone" (why) -->\n```sh\ntrue\n```\n', "no command in the next block contains 'gone'"),
        ("<!-- readme-test: skip (why) -->\nsome text\n```sh\ntrue\n```\n", "not right before a code block"),
        ("<!-- readme-test: skip (why) -->\n```http\nGET /\n```\n", "before a block that does not run"),
    ],
    ids=["no reason", "empty reason", "not skip", "names no command", "not before a block", "before http"],
)
def test_a_marker_the_runner_cannot_apply_is_a_problem(text: str, problem: str):
    readme: Readme = parse(text)
    assert len(readme.problems) == 1 and problem in readme.problems[0], readme.problems
    assert readme.problems[0].startswith("README.md line 1:")
