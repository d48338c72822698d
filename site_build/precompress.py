"""Write `<file>.br` and `<file>.gz` beside each file of a built site that compresses, byte for byte reproducible.

Static servers send them as they are (nginx gzip_static/brotli_static, Apache with mod_rewrite, site_build/serve.py
and the hash bank's static mount) instead of compressing on every request, or not at all: at 1.6 Mbit/s the 10 MB
pyodide.asm.wasm takes 50 s plain, 16 s as gzip, 11 s as brotli.
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import brotli
import zopfli
import zopfli.gzip

# The coding a server names in Content-Encoding, and the suffix it looks for beside the file, as nginx does.
SIBLINGS = {"br": ".br", "gzip": ".gz"}
BROTLI_QUALITY = 11  # the smallest brotli makes; slow (50 s for the wasm), hence the cache; decoding costs the same
GZIP_LEVEL = 9  # zlib's, only to judge whether a file compresses (the rule below)
# The .gz siblings are written by Zopfli: the same deflate format every gzip decoder reads, 3-6% smaller than
# zlib's level 9 (0.3 MB over a first visit, which counts on hosts that send gzip but not brotli, GitHub Pages
# among them), at 100 times the time, spent once thanks to the cache. One iteration: more gain 0.1-0.3% for
# several times the time.
ZOPFLI_ITERATIONS = 1
# The rule. A file gets siblings when it is at least MIN_SIZE bytes and gzip makes it at least MIN_SAVING smaller:
# - under 1 KiB, what compression saves is less than the response's own headers (the CSP alone is 300 bytes), and
#   the whole response fits in one TCP segment anyway;
# - under 5% saved, the file is compressed already (a deflated zip saves 1%, a PNG nothing): a sibling would
#   cost a file and a manifest entry, and the client a decompression, for nothing. Judged by gzip, which is 100
#   times faster than brotli at quality 11, so an archive that does not compress costs no brotli time; a file
#   that gzip shrinks, brotli shrinks more (the text and the wasm here: 15-30% smaller than gzip).
MIN_SIZE = 1024
MIN_SAVING = 0.05
# Files of the site that are not sent to browsers as files: `_headers` is the host's configuration, and the
# manifest (written after the siblings) lists them, so it cannot be one of them.
SKIPPED = {"_headers", "manifest.json"}
CODECS = f"brotli {brotli.__version__} zopfli {zopfli.__version__} zlib {zlib.ZLIB_RUNTIME_VERSION}"


def gzip_bytes(data: bytes) -> bytes:
    """A gzip member (RFC 1952) written by zlib at level 9: no file name, mtime 0. Only to judge a file."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def compress(data: bytes, coding: str) -> bytes:
    """The sibling's bytes: brotli, or a gzip member written by Zopfli (no file name, mtime 0), both depending
    on the bytes alone."""
    if coding == "br":
        return brotli.compress(data, quality=BROTLI_QUALITY)
    return zopfli.gzip.compress(data, numiterations=ZOPFLI_ITERATIONS)


def decompress(data: bytes, coding: str) -> bytes:
    """The original bytes; raises ValueError when `data` is not exactly one complete stream of that coding."""
    try:
        if coding == "br":
            return brotli.decompress(data)
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = decompressor.decompress(data)
    except (brotli.error, zlib.error) as exc:
        raise ValueError(f"not a valid {coding} stream: {exc}") from exc
    if not decompressor.eof or decompressor.unused_data:
        raise ValueError(f"not exactly one gzip member ({'truncated' if not decompressor.eof else 'bytes after it'})")
    return out


def eligible(rel: str) -> bool:
    """Whether the file at this path (relative to the site) is one that may get siblings at all."""
    return rel not in SKIPPED and not rel.endswith(tuple(SIBLINGS.values()))


def sibling_bytes(data: bytes, coding: str, cache_dir: Path | None) -> bytes | None:
    """compress(data, coding), or None when that saves less than MIN_SAVING. Kept in `cache_dir` (when given)
    under the sha256 of the input and of the codecs' versions and options; a cached file is used only if it
    decompresses to `data`, so a stale or tampered cache can cost time, never a wrong sibling."""
    most = len(data) * (1 - MIN_SAVING)
    options = f"{CODECS} brotli-q{BROTLI_QUALITY} zopfli-i{ZOPFLI_ITERATIONS}\n"
    key = hashlib.sha256(options.encode() + data).hexdigest()
    cached = cache_dir / f"{key}{SIBLINGS[coding]}" if cache_dir else None
    if cached and cached.exists():
        out = cached.read_bytes()
        try:
            if decompress(out, coding) == data and len(out) <= most:
                return out
        except ValueError:
            pass
    if len(gzip_bytes(data)) > most:  # judged by zlib: fast, and what Zopfli and brotli do better still
        return None
    out = compress(data, coding)
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(cached.name + ".partial")
        partial.write_bytes(out)
        partial.replace(cached)
    return out


def write_siblings(site: Path, cache_dir: Path | None = None) -> dict[str, str]:
    """Write the siblings of every file of `site` that compresses; their provenance, by path relative to `site`.

    Brotli and gzip give the same bytes for the same input, options and library version, which the provenance
    names; `cache_dir` keeps them, so a rebuild does not spend a minute in brotli again.
    """
    provenance = {}
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        rel = path.relative_to(site).as_posix()
        if not eligible(rel) or path.stat().st_size < MIN_SIZE:
            continue
        data = path.read_bytes()
        gz = sibling_bytes(data, "gzip", cache_dir)
        if gz is None:  # gzip decides (see MIN_SAVING)
            continue
        path.with_name(path.name + ".gz").write_bytes(gz)
        provenance[rel + ".gz"] = (
            f"gzip by zopfli {zopfli.__version__} ({ZOPFLI_ITERATIONS} iteration, mtime 0, no name) of {rel}"
        )
        br = sibling_bytes(data, "br", cache_dir)
        if br is not None:
            path.with_name(path.name + ".br").write_bytes(br)
            provenance[rel + ".br"] = f"brotli {brotli.__version__} quality {BROTLI_QUALITY} of {rel}"
    return provenance
