"""Native benchmark: localhash vs Meta's pdqhash (decode included on both sides), and bank search.

Prints ratios measured in this one run; never asserts a time. Each (implementation, image)
pair runs in a fresh subprocess so that peak memory (Linux VmHWM above the resident size
just before the timed runs) belongs to that pair alone.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

RUNS = 5
SIZES = {"1MP": (1224, 816), "12MP": (4240, 2832)}

# The job each subprocess times. `{impl}` picks the code path; both read the file's bytes.
JOB = r"""
import io, json, sys, time
import numpy as np
from PIL import Image
impl, path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
if impl == "pdqhash":
    import pdqhash
    def job(data):
        return pdqhash.compute(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
elif impl == "localhash-pdq":
    from localhash.decode import decode_image, to_rgb_array
    from localhash.pdq import pdq_hash
    def job(data):
        return pdq_hash(to_rgb_array(decode_image(data).image))
else:
    from localhash import hash_bytes
    def job(data):
        return hash_bytes(data)
def status_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
data = open(path, "rb").read()
job(data)  # warm-up: lazy imports and first-call allocations are not what we measure
open("/proc/self/clear_refs", "w").write("5")  # Linux: reset the peak-RSS mark (VmHWM) to now
baseline = status_kb("VmRSS")
times = []
for _ in range(runs):
    t = time.perf_counter(); job(data); times.append(time.perf_counter() - t)
peak = status_kb("VmHWM")
print(json.dumps({"median": sorted(times)[len(times) // 2], "peak_mb": (peak - baseline) / 1024}))
"""


def make_images(folder: Path) -> dict[str, Path]:
    """Photo-like test images: smooth structure plus sensor-like noise, deterministic."""
    rng = np.random.default_rng(2026)
    out = {}
    for label, (w, h) in SIZES.items():
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        base = np.stack([128 + 90 * np.sin(x / (37 + 9 * c) + y / (53 - 7 * c)) for c in range(3)], axis=-1)
        pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        image = Image.fromarray(pixels)
        for fmt, ext in (("JPEG", "jpg"), ("PNG", "png")):
            path = folder / f"{label}.{ext}"
            image.save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
            out[f"{label} {fmt}"] = path
    return out


def measure(impl: str, path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", JOB, impl, str(path), str(RUNS)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def bench_hashing() -> None:
    print(f"PDQ, decode included, median of {RUNS} runs, fresh process per row")
    print(
        f"{'image':<12} {'pdqhash':>9} {'localhash':>10} {'ratio':>6} {'all hashes':>11} "
        f"{'peak MB pdqhash/localhash/all':>31}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for label, path in make_images(Path(tmp)).items():
            ref, ours, full = (measure(i, path) for i in ("pdqhash", "localhash-pdq", "localhash-all"))
            print(
                f"{label:<12} {ref['median'] * 1000:>7.0f}ms {ours['median'] * 1000:>8.0f}ms "
                f"{ours['median'] / ref['median']:>6.2f} {full['median'] * 1000:>9.0f}ms "
                f"{ref['peak_mb']:>13.0f} / {ours['peak_mb']:.0f} / {full['peak_mb']:.0f}"
            )
    print("ratio = localhash PDQ time / pdqhash time (below 1.0: localhash is faster)")


def bench_match() -> None:
    from localhash.match import Bank

    rng = np.random.default_rng(7)
    n = 1_000_000
    raw = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    t = time.perf_counter()
    bank = Bank.from_hex(raw_row.tobytes().hex() for raw_row in raw)
    load = time.perf_counter() - t
    query = bank.hashes[123]
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        hits = bank.search(query)
        times.append(time.perf_counter() - t)
    print(
        f"\nmatch: one PDQ query against {n:,} bank hashes: median {statistics.median(times) * 1000:.1f} ms "
        f"({len(hits)} hit), goal <= 50 ms: ratio {statistics.median(times) / 0.050:.2f} (bank load {load:.1f} s)"
    )


if __name__ == "__main__":
    bench_hashing()
    bench_match()
