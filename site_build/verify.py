"""`python3 build.py verify dist/`: check every file of a site against its manifest.json."""

from __future__ import annotations

import json
from pathlib import Path

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
    for rel, entry in sorted(listed.items()):
        path = site / rel
        if rel not in present:
            problems.append(f"{rel}: missing")
            continue
        actual = sha256_file(path)
        if actual != entry["sha256"] or path.stat().st_size != entry["size"]:
            problems.append(f"{rel}: sha256 {actual} differs from the manifest's {entry['sha256']}")
    return problems
