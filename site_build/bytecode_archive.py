"""Runs INSIDE Pyodide (under node, from site_build/bytecode.mjs): compile one zip's Python to bytecode.

Never import this natively: bytecode belongs to the CPython that made it, and the browser runs
Pyodide's CPython 3.12, not the build machine's Python.

Every other entry is copied byte for byte. A .py becomes bytecode in one of two forms:
- sourceless (`keep_sources=False`, the standard library, numpy, Pillow): `x.py` is replaced by
  `x.pyc`, as Pyodide's own "pyc" distribution ships them;
- beside its source (`keep_sources=True`, localhash): `x.py` stays, for auditors to read, and
  `__pycache__/x.cpython-312.pyc` is added as a *checked* hash-based pyc, so Python compares it with
  the .py at import and compiles the .py itself if they ever differ.
Both forms record the source's hash in their header (PEP 552), so each .pyc names the exact source
it came from; no timestamps, so the output depends on the input bytes alone.

`strip_docstrings` (the standard library and Pillow, not numpy or localhash) leaves docstrings out
of the bytecode: `__doc__` is None, as under `python -OO`, but assertions stay, so the code runs
as the native tests run it. They are a sixth of the standard library's bytes, and no module the
site imports reads them (the build's trace runs the site on the stripped archives). numpy cannot
lose them: it attaches them to its C functions when it is imported and refuses None unless
Python itself runs with -OO.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import sys
import zipfile
from importlib._bootstrap_external import _code_to_hash_pyc

assert sys.platform == "emscripten", "bytecode must come from the CPython that runs it (Pyodide's)"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _without_docstrings(tree: ast.Module) -> ast.Module:
    """The module with the docstring of the module and of every class and function removed (a body
    that was only a docstring becomes `pass`), every other node and line number unchanged."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        first = node.body[0] if node.body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            node.body = node.body[1:] or [ast.copy_location(ast.Pass(), first)]
    return tree


def _bytecode(source: bytes, runtime_path: str, checked: bool, strip_docstrings: bool) -> bytes | None:
    try:
        tree = ast.parse(source, runtime_path)
        if strip_docstrings:
            tree = _without_docstrings(tree)
        code = compile(tree, runtime_path, "exec", dont_inherit=True, optimize=0)
    except SyntaxError:
        return None  # shipped as source: Python reports the error if anything ever imports it
    return bytes(_code_to_hash_pyc(code, importlib.util.source_hash(source), checked))


def compile_archive(src: str, dst: str, keep_sources: bool, runtime_prefix: str, strip_docstrings: bool) -> dict:
    """Write the compiled copy of zip `src` to `dst`; return counts for the build log.

    `runtime_prefix` is where the files live at run time (shown in tracebacks). A wheel's RECORD
    is rewritten to list what the wheel now holds.
    """
    entries: list[tuple[zipfile.ZipInfo, bytes]] = []
    compiled, kept = 0, []
    with zipfile.ZipFile(src) as archive:
        for info in archive.infolist():
            data = archive.read(info)
            name = info.filename
            if name.endswith(".py"):
                pyc = _bytecode(data, runtime_prefix + name, keep_sources, strip_docstrings)
                if pyc is None:
                    kept.append(name)
                elif keep_sources:
                    entries.append((info, data))
                    name = importlib.util.cache_from_source(name)
                    data = pyc
                else:
                    name, data = name[:-3] + ".pyc", pyc
                if pyc is not None:
                    compiled += 1
                    new = zipfile.ZipInfo(name, info.date_time)
                    new.external_attr = info.external_attr
                    info = new
            entries.append((info, data))

    records = [i for i, (info, _) in enumerate(entries) if info.filename.endswith(".dist-info/RECORD")]
    for index in records:
        info, _ = entries[index]
        lines = [_record_line(i.filename, d) for i, d in entries if i.filename != info.filename]
        entries[index] = (info, ("\n".join(lines) + f"\n{info.filename},,\n").encode())
        entries.append(entries.pop(index))  # RECORD last, as wheels have it

    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for info, data in entries:
            info.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(info, data, compresslevel=9)
    return {"compiled": compiled, "kept_as_source": kept}
