"""What `--variants` costs natively: the 12 re-framings and 7 turned copies (variants.py) against one
full-size PDQ of the same 12 MP photo, in this tree and in an earlier commit (`--against REV`, by default
the commit before the copies shared their luma and Jarosz passes), side by side.

Each round runs every (tree, photo) pair in a fresh CPython process, which times the best of RUNS full-size
PDQs (pdq_hash of the decoded pixels) and the best of RUNS of the copies made from the working copy
(record._copies, which both trees have), and checks that both trees give the same copies. Rounds alternate
the trees, so a machine shared with other work slows both alike; the ratios of every round are printed.
Never asserts a time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.native import make_images  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "2c43f71"  # main before the copies shared their luma and Jarosz passes (2026-12-01)
RUNS, ROUNDS = 4, 3

JOB = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
from PIL import Image
from localhash.pdq import pdq_hash
from localhash.record import _copies
from localhash.variants import working_copy
rgb = np.asarray(Image.open(sys.argv[2]).convert("RGB"))
work = working_copy(rgb)
def best(job, runs):  # the fastest wall time and the fastest CPU time of the process
    walls, cpus = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time(); result = job()
        walls.append(time.perf_counter() - t); cpus.append(time.process_time() - c)
    return {"wall": min(walls), "cpu": min(cpus)}, result
full, pdq = best(lambda: pdq_hash(rgb), int(sys.argv[3]))
copies_time, copies = best(lambda: _copies(work, pdq.quality), int(sys.argv[3]))
print(json.dumps({"full": full, "copies": copies_time, "work": list(work.shape[:2]), "result": copies}))
"""


def tree_of(rev: str, folder: Path) -> Path:
    """The `py/` folder of commit `rev`, unpacked into `folder`."""
    archive = subprocess.run(["git", "archive", rev, "py"], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder / "py"


def photos(folder: Path) -> dict[str, Path]:
    """bench/native.py's 12 MP JPEG (4240x2832, 3:2, as bench/browser.py hashes it) and the same scene at a
    phone's 4:3 (4032x3024), whose working copy is 807x605 (1008x756 before 2026-12-02)."""
    twelve = make_images(folder)["12MP JPEG"]
    phone = folder / "12MP-4x3.jpg"
    Image.open(twelve).resize((4032, 3024)).save(phone, quality=90)
    return {"12 MP 3:2": twelve, "12 MP 4:3": phone}


def measure(py: Path, photo: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", JOB, str(py), str(photo), str(RUNS)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default=BEFORE, help="the earlier commit (default %(default)s)")
    args, _ = parser.parse_known_args()  # build.py bench hands every script the same options
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": tree_of(args.against, Path(tmp) / "before"), "after": ROOT / "py"}
        found: dict[tuple[str, str], list[dict]] = {}
        images = photos(Path(tmp))
        for _ in range(ROUNDS):
            for label, photo in images.items():
                for tree, py in trees.items():
                    found.setdefault((label, tree), []).append(measure(py, photo))
    print(
        f"variants + turned (19 PDQs from the working copy) against one full-size PDQ, native CPython, fastest of "
        f"{RUNS} per process, {ROUNDS} interleaved rounds; before = {args.against}, after = this tree; "
        "ranges over the rounds, wall time (CPU time of the process)"
    )
    print(f"{'photo':<10} {'tree':<7} {'working copy':>12} {'full PDQ ms':>21} {'copies ms':>21} {'ratio':>21}")
    for (label, tree), rounds in found.items():
        columns = []
        for clock in ("wall", "cpu"):
            full = [r["full"][clock] * 1000 for r in rounds]
            copies = [r["copies"][clock] * 1000 for r in rounds]
            ratios = [r["copies"][clock] / r["full"][clock] for r in rounds]
            columns.append(
                (
                    f"{min(full):.0f}-{max(full):.0f}",
                    f"{min(copies):.0f}-{max(copies):.0f}",
                    f"{min(ratios):.2f}-{max(ratios):.2f}",
                )
            )
        (full_wall, copies_wall, ratio_wall), (full_cpu, copies_cpu, ratio_cpu) = columns
        print(
            f"{label:<10} {tree:<7} {'x'.join(map(str, rounds[0]['work'][::-1])):>12} "
            f"{full_wall + ' (' + full_cpu + ')':>21} {copies_wall + ' (' + copies_cpu + ')':>21} "
            f"{ratio_wall + ' (' + ratio_cpu + ')':>21}"
        )
    for label in images:
        same = all(r["result"] == found[label, "before"][0]["result"] for t in trees for r in found[label, t])
        print(f"{label}: every round's copies equal between the trees (hash and quality): {same}")
    print("ratio = copies time / full-size PDQ time in the same process (the goal: about 1)")


if __name__ == "__main__":
    main()
