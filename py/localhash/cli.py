"""`python -m localhash`: hash, compare and match files from the command line, one JSON object a line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import video_native
from .decode import DEFAULT_MAX_PIXELS, VIDEO_SNIFF_BYTES, video_format
from .digests import HashStream
from .errors import BAD_BANK, INVALID_HASH, UNREADABLE_FILE, USAGE, LocalhashError
from .hashtypes import PDQ_MATCH_THRESHOLD, perceptual_type_for
from .match import Bank
from .record import MODES, hash_bytes, video_record
from .vpdq_match import match_vpdq, parse_vpdq
from .yuv import SWSCALE_FLAVOURS

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in our error shape, with exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        _print({"ok": False, "error": {"code": USAGE, "message": message}})
        self.exit(EXIT_USAGE)


def _print(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _hash_file(path: str, args: argparse.Namespace) -> dict:
    try:
        with open(path, "rb") as f:
            head = f.read(VIDEO_SNIFF_BYTES)
            container = video_format(head)
            if container:  # a video can be gigabytes: stream it through the digests
                stream = HashStream().update(head)
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    stream.update(chunk)
                return {"file": path, **_video(path, video_record(container, stream.hexdigests()), args)}
            data = head + f.read()
    except OSError as exc:
        return {"file": path, "ok": False, "error": {"code": UNREADABLE_FILE, "message": exc.strerror or str(exc)}}
    record = hash_bytes(
        data, dihedral=args.dihedral, mode=args.mode, max_pixels=args.max_pixels, variants=args.variants
    )
    return {"file": path, **record}


def _video(path: str, record: dict, args: argparse.Namespace) -> dict:
    """A video's record with its vPDQ when PyAV (the `video` extra) is installed; without it, MD5 and SHA-256."""
    if not video_native.available():
        return record
    try:
        features = video_native.vpdq_of_file(path, swscale=args.swscale)
    except LocalhashError as exc:
        return {"ok": False, "error": exc.as_record()}
    return {**record, "vpdq": [str(f) for f in features]}


def _cmd_hash(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for path in args.files:
        record = _hash_file(path, args)
        status = status if record["ok"] else EXIT_SOME_FAILED
        _print(record)
    return status


def _vpdq_argument(value: str) -> list:
    """A vPDQ on the command line: its JSON list, or a file holding it (or a `hash` line with a "vpdq" field)."""
    text = value
    if not value.lstrip().startswith("["):
        try:
            with open(value, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise LocalhashError(
                INVALID_HASH, f"{value!r:.80} is neither a hash nor a readable file ({exc.strerror})"
            ) from None
        if text.lstrip().startswith("{"):
            text = json.dumps(json.loads(text).get("vpdq"))
    return parse_vpdq(text)


def _is_vpdq_argument(value: str) -> bool:
    return value.lstrip().startswith("[") or len(value.strip()) not in (16, 64)


def _cmd_compare(args: argparse.Namespace) -> int:
    try:
        if _is_vpdq_argument(args.a) or _is_vpdq_argument(args.b):
            result = match_vpdq(_vpdq_argument(args.a), _vpdq_argument(args.b))
            _print({**result.__dict__, "match": result.is_match()})
            return EXIT_OK
        kind = perceptual_type_for(args.a)
        if perceptual_type_for(args.b) is not kind:
            raise LocalhashError(INVALID_HASH, "the two hashes are of different lengths")
        print(kind.distance(args.a, args.b))
    except (LocalhashError, ValueError, AttributeError) as exc:
        record = exc.as_record() if isinstance(exc, LocalhashError) else {"code": INVALID_HASH, "message": str(exc)}
        _print({"ok": False, "error": record})
        return EXIT_USAGE
    return EXIT_OK


def _video_matches(record: dict, bank: Bank) -> dict:
    """A video's vPDQ against every video of the bank: those Meta's matcher calls a match, best first."""
    query = parse_vpdq(record["vpdq"])
    matches = []
    for line, video in bank.videos:
        result = match_vpdq(query, video)
        if result.is_match():
            matches.append({"line": line, **result.__dict__})
    matches.sort(key=lambda m: (-m["query_match_percent"], -m["compared_match_percent"]))
    summary = {key: value for key, value in record.items() if key != "vpdq"}
    return {**summary, "vpdq_frames": len(query), "matches": matches}


def _cmd_match(args: argparse.Namespace) -> int:
    try:
        bank = Bank.from_file(args.bank)
    except (LocalhashError, OSError) as exc:
        message = exc.message if isinstance(exc, LocalhashError) else str(exc)
        _print({"ok": False, "error": {"code": BAD_BANK, "message": message}})
        return EXIT_USAGE
    status = EXIT_OK
    for path in args.files:
        record = _hash_file(path, args)
        if record["ok"] and "vpdq" in record:
            _print(_video_matches(record, bank))
            continue
        if not record["ok"] or record["media"] != "image":
            status = status if record["ok"] else EXIT_SOME_FAILED
            _print({**record, "matches": []} if record["ok"] else record)
            continue
        queries = record.get("pdq_dihedral") or {"original": record["pdq"]}
        if "pdq_oriented" in record:
            queries = {**queries, "oriented": record["pdq_oriented"]}
        for name, variant in record.get("pdq_variants", {}).items():
            queries[name] = variant["hash"]
        matches = []
        for variant, query in queries.items():
            for bank_hash, distance in bank.search(query, args.threshold):
                match = {"hash": bank_hash, "distance": distance, "variant": variant}
                if bank_hash in bank.kinds:  # what the bank says it is: the original, or an app's re-framing
                    match["bank_kind"] = bank.kinds[bank_hash]
                matches.append(match)
        matches.sort(key=lambda m: m["distance"])
        _print(
            {
                "file": path,
                "ok": True,
                "pdq": record["pdq"],
                "pdq_quality": record["pdq_quality"],
                "low_quality": record["low_quality"],
                "matches": matches,
            }
        )
    return status


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m localhash", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add_hash_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dihedral", action="store_true", help="also hash the 8 rotations/flips (PDQ)")
        p.add_argument(
            "--variants",
            action="store_true",
            help="also the PDQ of the picture as apps re-frame it: fitted with bars or blur, centre-cropped",
        )
        p.add_argument(
            "--mode",
            choices=MODES,
            default="full",
            help="full: PDQ of full-resolution pixels as pdqhash/HMA (default); "
            "reference-cli: as Meta's pdq-photo-hasher, which first shrinks to 512x512",
        )
        p.add_argument(
            "--max-pixels",
            type=int,
            default=DEFAULT_MAX_PIXELS,
            help=f"refuse larger pictures (default {DEFAULT_MAX_PIXELS:,})",
        )
        p.add_argument(
            "--swscale",
            choices=SWSCALE_FLAVOURS,
            default="x86",
            help="a video's vPDQ with the YUV->RGB arithmetic of FFmpeg on x86 (default: vpdq on Linux servers, HMA) "
            "or its plain C code (vpdq on ARM Macs, Meta's sample hashes)",
        )
        p.add_argument("files", nargs="+", metavar="FILE")

    add_hash_options(commands.add_parser("hash", help="print every hash of each file, one JSON line each"))
    compare = commands.add_parser(
        "compare",
        help="print the Hamming distance of two hashes; of two vPDQ (JSON lists or files), Meta's match percentages",
    )
    compare.add_argument("a", metavar="HASH")
    compare.add_argument("b", metavar="HASH")
    match = commands.add_parser("match", help="report bank hashes within the threshold of each file's PDQ")
    match.add_argument(
        "--bank",
        required=True,
        help="a file with one PDQ hex hash per line, optionally followed by what it is (original, a variant's name); "
        "a line holding a JSON list is a video's vPDQ",
    )
    match.add_argument(
        "--threshold",
        type=int,
        default=PDQ_MATCH_THRESHOLD,
        help=f"largest Hamming distance that counts as a match (default {PDQ_MATCH_THRESHOLD})",
    )
    add_hash_options(match)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return {"hash": _cmd_hash, "compare": _cmd_compare, "match": _cmd_match}[args.command](args)
