"""`python3 build.py verify dist/`: check every file of a site against its manifest.json."""

from __future__ import annotations

import json
from pathlib import Path

from .precompress import SIBLINGS, decompress
from .pyodide_assets import sha256_file


def verify(site: Path) -> list[str]:
    """Problems found, one line each; empty means every byte is as the manifest says."""
    manifest_path = site / "manifest.json"
    if not manifest_path.exists():
        return [f"{manifest_path}: missing"]
    listed = json.loads(manifest_path.read_text())["files"]
    problems = []
    present = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()} - {"manifest.json"}
    for rel in sorted(present - listed.keys()):
        problems.append(f"{rel}: not in the manifest")
    matching = set()
    for rel, entry in sorted(listed.items()):
        path = site / rel
        if rel not in present:
            problems.append(f"{rel}: missing")
            continue
        actual = sha256_file(path)
        if actual != entry["sha256"] or path.stat().st_size != entry["size"]:
            problems.append(f"{rel}: sha256 {actual} differs from the manifest's {entry['sha256']}")
        else:
            matching.add(rel)
    return problems + sibling_problems(site, matching)


def sibling_problems(site: Path, matching: set[str]) -> list[str]:
    """A .br/.gz sibling must decompress to its original exactly: the manifest vouches for each file alone,
    and a server sends the sibling in the original's place. Checked where both match the manifest (a file
    that does not is reported already), so each problem is one line."""
    problems = []
    for rel in sorted(matching):
        for coding, suffix in SIBLINGS.items():
            original = rel.removesuffix(suffix)
            if original == rel or original not in matching:
                continue
            try:
                same = decompress((site / rel).read_bytes(), coding) == (site / original).read_bytes()
                reason = f"does not decompress to {original}"
            except ValueError as exc:
                same, reason = False, f"{exc} (a {coding} sibling of {original})"
            if not same:
                problems.append(f"{rel}: {reason}")
    return problems
