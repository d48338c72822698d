"""Robustness benchmark (issue 12): which copies of a photo a platform still recognises, by what the victim sent.

Applies app-like edits to real photos (the corpus's distinct photos by default, or every picture in
`--photos DIR`), hashes each edited copy with Meta's pdqhash as a platform would, and prints, per edit
family, the share of copies within Meta's threshold (31) of what the victim's device sent:
- original: `pdq` (or `pdq_oriented`, the picture as people see it), as the site sent before variants;
- +dihedral: also Meta's 7 derived dihedral hashes (`pdq_dihedral`, one DCT turned);
- +turned: the original and `pdq_turned` instead: the same 7 copies hashed from really turned pixels;
- +variants: +turned and `pdq_variants`, the re-framings (localhash/variants.py).
Edit parameters are drawn from a seeded generator per photo, never tuned on the result. Then the false-match
side: the distance from every photo's submitted set to every *other* photo's copies, how many fall within
31, and the distribution of variants' distances to unrelated copies beside the originals'. Never asserts.
Never run on images of people in intimate settings: the corpus holds Meta's test photos.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image, ImageDraw, ImageFilter, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "py"))

from localhash import hash_bytes  # noqa: E402
from localhash.hashtypes import PDQ_MATCH_THRESHOLD  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "pdq" / "images"
# The corpus's distinct photos of PDQ quality >= 50 (the others are edits or renditions of these: the bridge
# photo's blurs, crops and turns; the same street scene under each EXIF orientation).
CORPUS_PHOTOS = (
    "reg-test-input/dih/bridge-1-original.jpg",
    "reg-test-input/exif-rotn/exif-rotn-1.jpg",
    "pytx-resources/letterboxed_sample-b.jpg",
    "pytx-resources/rgb.jpeg",
    "reg-test-input/pen-and-coaster.png",
    "reg-test-input/labelme-subset/q0122.jpg",
    "reg-test-input/labelme-subset/q0291.jpg",
    "reg-test-input/labelme-subset/q0746.jpg",
    "reg-test-input/labelme-subset/q1050.jpg",
    "reg-test-input/labelme-subset/q2821.jpg",
)
SEED = 20261201
LARGE = 900  # px: phone photos are larger still; PDQ of the 256 px photos moves further under any edit


def fit(picture: Image.Image, size: tuple[int, int], background: str) -> Image.Image:
    """The picture fitted into `size`, on black or on its own enlarged, blurred copy (radius given)."""
    width, height = size
    scale = min(width / picture.width, height / picture.height)
    photo = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))), Image.LANCZOS)
    if background == "black":
        canvas = Image.new("RGB", size)
    else:
        cover = max(width / picture.width, height / picture.height)
        big = picture.resize((round(picture.width * cover) + 1, round(picture.height * cover) + 1), Image.BILINEAR)
        left, top = (big.width - width) // 2, (big.height - height) // 2
        radius = float(background.split(":")[1])
        canvas = big.crop((left, top, left + width, top + height)).filter(ImageFilter.GaussianBlur(radius))
    canvas.paste(photo, ((width - photo.width) // 2, (height - photo.height) // 2))
    return canvas


def fill(picture: Image.Image, aspect: float, out_width: int) -> Image.Image:
    """A centre crop to `aspect` (width / height), resized as an app does."""
    if picture.width / picture.height > aspect:
        width, height = round(picture.height * aspect), picture.height
    else:
        width, height = picture.width, round(picture.width / aspect)
    left, top = (picture.width - width) // 2, (picture.height - height) // 2
    cropped = picture.crop((left, top, left + width, top + height))
    return cropped.resize((out_width, round(out_width / aspect)), Image.LANCZOS)


def recompressed(picture: Image.Image, quality: int, scale: float) -> Image.Image:
    import io

    small = picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=quality)
    return Image.open(buffer).convert("RGB")


Edit = Callable[[Image.Image, np.random.Generator], Image.Image]
# Edit families, with what a victim-side set can be expected to catch ("app frames": the geometries apps
# apply on their own, which variants target; "turns": dihedral; "baseline": what PDQ forgives anyway;
# "out of reach": edits no small victim-side set catches).
EDITS: dict[str, tuple[str, Edit]] = {
    "recompress + resize": ("baseline", lambda p, r: recompressed(p, int(r.integers(40, 90)), r.uniform(0.3, 0.9))),
    "mirrored": ("turns", lambda p, r: ImageOps.mirror(p)),
    "turned 90": ("turns", lambda p, r: p.transpose(Image.Transpose.ROTATE_90)),
    "story, black bars": ("app frames", lambda p, r: fit(p, (1080, 1920), "black")),
    "story, blurred": ("app frames", lambda p, r: fit(p, (1080, 1920), f"blur:{r.uniform(30, 80):.0f}")),
    "square post, bars": ("app frames", lambda p, r: fit(p, (1080, 1080), "black")),
    "square post, blurred": ("app frames", lambda p, r: fit(p, (1080, 1080), f"blur:{r.uniform(20, 60):.0f}")),
    "square crop": ("app frames", lambda p, r: fill(p, 1.0, 1080)),
    "portrait 4:5 crop": ("app frames", lambda p, r: fill(p, 0.8, 1080)),
    "story crop 9:16": ("app frames", lambda p, r: fill(p, 9 / 16, 1080)),
    "landscape 16:9, bars": ("app frames", lambda p, r: fit(p, (1920, 1080), "black")),
    "phone screenshot": ("app frames", lambda p, r: fit(p, (1170, 2532), "black")),
    "free crop 10-25%": ("out of reach", lambda p, r: free_crop(p, r)),
    "rotated 3-8 degrees": ("out of reach", lambda p, r: p.rotate(r.uniform(3, 8) * r.choice([-1, 1]))),
    "caption bar": ("out of reach", lambda p, r: caption(p, r)),
}


def free_crop(picture: Image.Image, rng: np.random.Generator) -> Image.Image:
    share = rng.uniform(0.10, 0.25)
    left, top = rng.uniform(0, share), rng.uniform(0, share)
    width, height = picture.size
    box = (left * width, top * height, (1 - share + left) * width, (1 - share + top) * height)
    return picture.crop(tuple(round(v) for v in box))


def caption(picture: Image.Image, rng: np.random.Generator) -> Image.Image:
    bar = round(picture.height * rng.uniform(0.12, 0.22))
    canvas = Image.new("RGB", (picture.width, picture.height + bar), "white")
    canvas.paste(picture, (0, bar))
    draw = ImageDraw.Draw(canvas)
    for i in range(int(rng.integers(8, 20))):  # words as dark blocks
        x = round(picture.width * (0.05 + 0.045 * i))
        draw.rectangle((x, bar * 0.35, x + picture.width * 0.035, bar * 0.65), fill="black")
    return canvas


def platform_pdq(picture: Image.Image) -> str:
    """Meta's pdqhash, spelt as python-threatexchange spells it (a platform running HMA stores this)."""
    vector, _ = pdqhash.compute(np.asarray(picture.convert("RGB")))
    return f"{int(''.join(str(int(b)) for b in vector), 2):064x}"


def bits(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def submitted_sets(record: dict) -> dict[str, list[str]]:
    original = [record.get("pdq_oriented", record["pdq"])]
    dihedral = original + [h for name, h in record["pdq_dihedral"].items() if name != "original"]
    turned = original + [v["hash"] for v in record["pdq_turned"].values()]
    variants = turned + [v["hash"] for v in record["pdq_variants"].values()]
    return {"original": original, "+dihedral": dihedral, "+turned": turned, "+variants": variants}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, help="a folder of photos (default: the corpus's distinct photos)")
    args = parser.parse_args()
    paths = sorted(p for p in args.photos.rglob("*") if p.is_file()) if args.photos else []
    paths = paths or [CORPUS / name for name in CORPUS_PHOTOS]
    started = time.monotonic()
    photos = []
    for path in paths:
        record = hash_bytes(path.read_bytes(), dihedral=True, variants=True)
        if not record.get("ok") or record["low_quality"]:
            continue
        seen = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        photos.append((path.name, seen, submitted_sets(record)))
    large = [i for i, (_, seen, _) in enumerate(photos) if max(seen.size) >= LARGE]
    print(f"{len(photos)} photos (PDQ quality >= 50; {len(large)} of them {LARGE} px or more a side),")
    print(f"{len(EDITS)} edit families, threshold {PDQ_MATCH_THRESHOLD}; % of copies caught: all photos / large ones")
    copies: list[tuple[int, str, str]] = []  # (photo index, edit, platform PDQ)
    for index, (_, seen, _) in enumerate(photos):
        rng = np.random.default_rng([SEED, index])
        for edit, (_, make) in EDITS.items():
            copies.append((index, edit, platform_pdq(make(seen, rng))))
    levels = ("original", "+dihedral", "+turned", "+variants")
    print(f"\n{'edit':<24} {'family':<13} " + " ".join(f"{level:>13}" for level in levels) + "   nearest +variants")
    for edit, (family, _) in EDITS.items():
        caught = {level: [0, 0] for level in levels}  # [all photos, large ones]
        nearest = []
        for index, made, copy in copies:
            if made != edit:
                continue
            for level, hashes in photos[index][2].items():
                distance = min(bits(copy, h) for h in hashes)
                caught[level][0] += distance <= PDQ_MATCH_THRESHOLD
                caught[level][1] += distance <= PDQ_MATCH_THRESHOLD and index in large
                if level == "+variants":
                    nearest.append(distance)
        shares = [
            f"{100 * every / len(photos):>5.0f}% /{100 * big / max(1, len(large)):>4.0f}%"
            for every, big in caught.values()
        ]
        print(f"{edit:<24} {family:<13} " + " ".join(f"{share:>13}" for share in shares) + f"   {sorted(nearest)}")
    unrelated: dict[str, list[int]] = {"originals": [], "variants": []}
    false_matches = 0
    for index, (_, _, sets) in enumerate(photos):
        variants = sets["+variants"][1:]  # the turned copies and the re-framings
        for other, _, copy in copies:
            if other == index:
                continue
            distances = [bits(copy, h) for h in sets["+variants"]]
            false_matches += min(distances) <= PDQ_MATCH_THRESHOLD
            unrelated["originals"].append(bits(copy, sets["original"][0]))
            unrelated["variants"].extend(bits(copy, h) for h in variants)
    pairs = len(photos) * (len(photos) - 1) * len(EDITS)
    print(f"\nfalse matches: {false_matches} of {pairs} (a photo's whole submitted set against another's copies)")
    for kind, values in unrelated.items():
        mean, sd = statistics.mean(values), statistics.stdev(values)
        print(
            f"distance to unrelated copies, {kind}: mean {mean:.1f}, sd {sd:.1f}, min {min(values)} (n={len(values)})"
        )
    print(f"\n({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
