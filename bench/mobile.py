"""Mobile benchmark (issue 10): the site as a phone on a slow network sees it.

Chromium at 360x740 (mobile emulation, a fresh browser per visit, so an empty cache) fetches a
built site from our own server, which throttles the way a slow mobile link does: every byte of
every response, on all of the browser's connections at once, goes through one shared link of
1.6 Mbit/s (written in small slices paced against one clock), and each request waits 150 ms before
its first byte. DevTools' network emulation is not used: a worker's requests may escape it.

The server speaks like a static host with precompressed files: when the site has `<file>.br` or
`<file>.gz` beside its files, those are served per Accept-Encoding with Content-Encoding; when it
has none (a build from before 2026-12-01), it compresses on the fly (brotli quality 11, gzip 9; kept in memory, and
done before the timed visits), which gives the "before" figure. One parameter decides the only
encoding the server offers, so brotli and gzip are each measured. Bytes over the wire are the bytes
the server wrote (status lines, headers and bodies) until the page was ready.

Reported: first paint (first-contentful-paint) and ready (window.localhash.ready, the stage log's
time since navigation start) over that link, with brotli and with gzip; and ready with no
throttling (same server, brotli), as `bench/browser.py` measures it.
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import json
import mimetypes
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "py")]

from site_build.headers import security_headers  # noqa: E402
from site_build.serve import MIME_TYPES  # noqa: E402
from site_build.system import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

LINK_BITS_PER_SECOND = 1.6e6  # DevTools' "Slow 4G" download rate
LATENCY = 0.150  # seconds before each response's first byte
SLICE = 1460  # bytes written per turn on the shared link (one TCP segment's payload)
VIEWPORT = {"width": 360, "height": 740}
DEVICE_SCALE_FACTOR = 2
SUFFIX = {"br": ".br", "gzip": ".gz"}
GOALS = {  # issue 10
    "bytes br": 5.5e6,
    "bytes gzip": 7e6,
    "ready": 35.0,
    "first paint": 1.0,
    "unthrottled ready": 2.0,
}

# Run in the page right after navigation commits: waits for the hasher, then its ready promise
# (at most TIMEOUT_MS from navigation start: a page that never gets ready fails the benchmark).
TIMEOUT_MS = 300_000
MEASURE = """async (timeoutMs) => {
  const timeout = new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`not ready after ${timeoutMs} ms`)), timeoutMs - performance.now()));
  while (!window.localhash || !window.localhash.ready) {
    await Promise.race([new Promise((r) => setTimeout(r, 20)), timeout]);
  }
  await Promise.race([window.localhash.ready, timeout]);
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  return { ready: window.localhash.stageLog.at(-1).ms, paint: paint ? paint.startTime : null,
           stages: window.localhash.stageLog };
}"""


def compress(path: str, encoding: str) -> bytes:
    data = Path(path).read_bytes()
    if encoding == "gzip":
        return gzip.compress(data, 9, mtime=0)
    import brotli

    return brotli.compress(data, quality=11)


class Link:
    """One shared link: each slice of bytes, from any connection, takes its turn on one clock.

    Nothing bursts: a slice starts when the link is free (or now, if it has been idle) and reaches
    the socket when its transmission time at the link's rate is over.
    """

    def __init__(self, bits_per_second: float):
        self.bytes_per_second = bits_per_second / 8
        self.lock = threading.Lock()
        self.free_at = 0.0

    def send(self, write, data: bytes) -> None:
        for start in range(0, len(data), SLICE):
            piece = data[start : start + SLICE]
            with self.lock:
                # 5 ms of slack: a sender's own sleep and write do not cost the link time
                self.free_at = max(time.monotonic() - 0.005, self.free_at) + len(piece) / self.bytes_per_second
                due = self.free_at
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            write(piece)


@dataclass
class Response:
    path: str
    accept_encoding: str
    encoding: str  # "br", "gzip" or "identity"
    wire_bytes: int = 0  # status line, headers and body as written
    started: float = 0.0
    finished: float | None = None


@dataclass
class Throttle:
    """What the server does now: the link (None: unthrottled), the latency, the one encoding offered."""

    link: Link | None = None
    latency: float = 0.0
    offer: str | None = None  # "br", "gzip" or None (identity only)
    log: list[Response] = field(default_factory=list)


class Site:
    """The files of a built site, their types and headers, and their compressed forms."""

    def __init__(self, folder: Path):
        self.folder = folder.resolve()
        config = self.folder / "config.json"
        endpoint = json.loads(config.read_text()).get("endpoint", "api/") if config.exists() else "api/"
        self.headers = security_headers(endpoint)
        # Precompressed: the build put .br / .gz siblings beside the files; a host then serves those
        # and nothing else compressed. Otherwise every file is compressed on the fly (if it gets smaller).
        self.precompressed = {enc: any(self.folder.rglob("*" + SUFFIX[enc])) for enc in SUFFIX}
        self.cache: dict[tuple[Path, str], bytes | None] = {}
        self.cache_lock = threading.Lock()
        self.types = {**mimetypes.types_map, **MIME_TYPES}

    def file(self, url_path: str) -> Path | None:
        rel = unquote(urlsplit(url_path).path).lstrip("/")
        if rel == "" or rel.endswith("/"):
            rel += "index.html"
        path = (self.folder / rel).resolve()
        if not path.is_relative_to(self.folder) or not path.is_file():
            return None
        return path

    def content_type(self, path: Path) -> str:
        return self.types.get(path.suffix.lower(), "application/octet-stream")

    def encoded(self, path: Path, encoding: str) -> bytes | None:
        """The file in `encoding`, or None when the host would serve it as it is."""
        if self.precompressed[encoding]:
            sibling = path.with_name(path.name + SUFFIX[encoding])
            return sibling.read_bytes() if sibling.is_file() else None
        key = (path, encoding)
        with self.cache_lock:
            if key in self.cache:
                return self.cache[key]
        data = compress(str(path), encoding)
        data = data if len(data) < path.stat().st_size else None
        with self.cache_lock:
            self.cache[key] = data
        return data

    def precompress(self, paths: list[Path], encodings: list[str]) -> None:
        """Compress on the fly ahead of the timed visits, in 2 processes (brotli holds the GIL)."""
        jobs = [
            (p, e)
            for e in encodings
            if not self.precompressed[e]
            for p in sorted(paths, key=lambda p: -p.stat().st_size)
            if (p, e) not in self.cache
        ]
        if not jobs:
            return
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
            outputs = pool.map(compress, [str(p) for p, _ in jobs], [e for _, e in jobs])
            for (path, encoding), data in zip(jobs, outputs, strict=True):
                self.cache[path, encoding] = data if len(data) < path.stat().st_size else None


def accepted(header: str) -> set[str]:
    """The content codings an Accept-Encoding header accepts (q > 0)."""
    codings = set()
    for item in header.split(","):
        name, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name and q > 0:
            codings.add(name.lower())
    return codings


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Chromium's 6 connections per host expect
    server: ThrottlingServer

    def do_GET(self) -> None:  # noqa: N802
        self.respond(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self.respond(send_body=False)

    def respond(self, send_body: bool) -> None:
        site, throttle = self.server.site, self.server.throttle
        path = site.file(self.path)
        encoding, body = "identity", b"not found\n"
        if path is not None:
            body = None
            if throttle.offer and throttle.offer in accepted(self.headers.get("Accept-Encoding", "")):
                body = site.encoded(path, throttle.offer)
                encoding = throttle.offer if body is not None else "identity"
            if body is None:
                body = path.read_bytes()
        record = Response(self.path, self.headers.get("Accept-Encoding", ""), encoding, started=time.monotonic())
        with self.server.log_lock:
            throttle.log.append(record)
        lines = ["HTTP/1.1 200 OK" if path else "HTTP/1.1 404 Not Found"]
        lines.append(f"Content-Type: {site.content_type(path) if path else 'text/plain'}")
        lines.append(f"Content-Length: {len(body)}")
        if encoding != "identity":
            lines.append(f"Content-Encoding: {encoding}")
        lines += ["Vary: Accept-Encoding", "Cache-Control: no-cache"]
        lines += [f"{name}: {value}" for name, value in site.headers.items()]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body if send_body else b"")
        if throttle.latency:
            time.sleep(throttle.latency)

        def write(piece: bytes) -> None:
            record.wire_bytes += len(piece)  # before the write: never behind what the browser has
            self.wfile.write(piece)

        try:
            if throttle.link:
                throttle.link.send(write, data)
            else:
                write(data)
        except ConnectionError:  # the browser closed: the visit is over
            self.close_connection = True
            return
        record.finished = time.monotonic()

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


class ThrottlingServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: Site):
        super().__init__(("127.0.0.1", 0), Handler)
        self.site = site
        self.throttle = Throttle()
        self.log_lock = threading.Lock()

    def set(self, throttle: Throttle) -> None:
        self.throttle = throttle


@dataclass
class Visit:
    ready: float  # seconds since navigation start
    paint: float | None
    wire_bytes: int  # written until ready
    responses: list[Response]
    stages: list[dict]


def visit(playwright, url: str, server: ThrottlingServer, throttle: Throttle) -> Visit:
    server.set(throttle)
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        context = browser.new_context(
            viewport=VIEWPORT, device_scale_factor=DEVICE_SCALE_FACTOR, is_mobile=True, has_touch=True
        )
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url, wait_until="commit")
        result = page.evaluate(MEASURE, TIMEOUT_MS)
        with server.log_lock:
            responses = list(throttle.log)
            wire = sum(r.wire_bytes for r in responses)
    finally:
        browser.close()
    paint = result["paint"] / 1000 if result["paint"] is not None else None
    return Visit(result["ready"] / 1000, paint, wire, responses, result["stages"])


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def check(value: float | None, goal: float) -> str:
    if value is None:
        return "not measured"
    return "met" if value <= goal else "NOT MET"


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="measure this built site (default: a fresh build in a temp folder)")
    parser.add_argument("--runs", type=int, default=3, help="throttled visits with brotli (default 3)")
    parser.add_argument("--gzip-runs", type=int, default=1, help="throttled visits with gzip (default 1)")
    parser.add_argument("--unthrottled-runs", type=int, default=5, help="visits with no throttling (default 5)")
    args, ignored = parser.parse_known_args()
    if ignored:
        print(f"(ignoring arguments meant for other benchmarks: {' '.join(ignored)})")

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        if args.site:
            folder = args.site
        else:
            from site_build.dist import build

            folder = build(ROOT, Path(tmp) / "dist")
        site = Site(folder)
        server = ThrottlingServer(site)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        visits: dict[str, list[Visit]] = {"br": [], "gzip": [], "unthrottled": []}
        with sync_playwright() as playwright:
            # An untimed visit, nothing compressed: warms the disk cache, and says which files a first
            # visit fetches (compressed before the timed visits) and what Chromium accepts.
            warm = visit(playwright, url, server, Throttle())
            started = time.monotonic()
            site.precompress(sorted({p for p in (site.file(r.path) for r in warm.responses) if p}), ["br", "gzip"])
            compressing = time.monotonic() - started
            accepts = sorted({r.accept_encoding for r in warm.responses})
            for key, runs in (("br", args.runs), ("gzip", args.gzip_runs)):
                for _ in range(runs):
                    throttle = Throttle(Link(LINK_BITS_PER_SECOND), LATENCY, key)
                    visits[key].append(visit(playwright, url, server, throttle))
            for _ in range(args.unthrottled_runs):
                visits["unthrottled"].append(visit(playwright, url, server, Throttle(offer="br")))
        server.shutdown()
        server.server_close()
        report(site, visits, accepts, compressing)
    # Our 2-core machines are shared: a busy neighbour shows in the unthrottled times above all.
    print(f"\nload average (1 min) at the start {load_before:.1f}, at the end {os.getloadavg()[0]:.1f}")


def report(site: Site, visits: dict[str, list[Visit]], accepts: list[str], compressing: float) -> None:
    how = {e: "precompressed files" if site.precompressed[e] else "compressed on the fly" for e in SUFFIX}
    print(
        f"Chromium at {VIEWPORT['width']}x{VIEWPORT['height']} (mobile, DPR {DEVICE_SCALE_FACTOR}), a fresh browser "
        f"per visit; {LINK_BITS_PER_SECOND / 1e6:g} Mbit/s shared by all connections, "
        f"{LATENCY * 1000:.0f} ms per request"
    )
    took = f" (before the visits, {compressing:.0f} s)" if not all(site.precompressed.values()) else ""
    print(f"brotli: {how['br']}; gzip: {how['gzip']}{took}")
    print(f"Chromium's Accept-Encoding: {' | '.join(accepts)}")
    for key in ("br", "gzip", "unthrottled"):
        if any(r.encoding == "identity" and site.file(r.path) for v in visits[key] for r in v.responses):
            sent = {r.path for v in visits[key] for r in v.responses if r.encoding == "identity" and site.file(r.path)}
            print(f"  sent uncompressed in '{key}' visits (no smaller encoded form): {', '.join(sorted(sent))}")
    print(f"\n{'':<34} {'first paint':>11} {'ready':>9} {'over the wire':>14} {'requests':>8}  ready of each visit")
    rows = {"br": "Slow 4G, brotli", "gzip": "Slow 4G, gzip", "unthrottled": "unthrottled, brotli"}
    med: dict[str, dict[str, float | None]] = {}
    for key, label in rows.items():
        runs = visits[key]
        if not runs:
            continue
        med[key] = {
            "paint": median([v.paint for v in runs]),
            "ready": median([v.ready for v in runs]),
            "bytes": median([v.wire_bytes for v in runs]),
        }
        requests = statistics.median(len(v.responses) for v in runs)
        print(
            f"{label + f' (median of {len(runs)})':<34} {seconds(med[key]['paint']):>11} "
            f"{seconds(med[key]['ready']):>9} {med[key]['bytes'] / 1e6:>11.2f} MB {requests:>8g}  "
            f"{', '.join(f'{v.ready:.1f}' for v in runs)}"
        )

    print("\ngoals (issue 10):")
    goals = [
        ("first visit over the wire, brotli", "br", "bytes", GOALS["bytes br"], 1e6, "MB"),
        ("first visit over the wire, gzip", "gzip", "bytes", GOALS["bytes gzip"], 1e6, "MB"),
        ("ready on Slow 4G (brotli)", "br", "ready", GOALS["ready"], 1, "s"),
        ("first paint on Slow 4G (brotli)", "br", "paint", GOALS["first paint"], 1, "s"),
        ("ready, unthrottled", "unthrottled", "ready", GOALS["unthrottled ready"], 1, "s"),
    ]
    for label, key, what, goal, unit, shown in goals:
        value = med.get(key, {}).get(what)
        measured = "n/a" if value is None else f"{value / unit:.2f} {shown}"
        print(f"  {label:<34} {measured:>9}  (goal <= {goal / unit:g} {shown}: {check(value, goal)})")

    for key in ("br", "gzip"):
        if visits[key]:
            show_requests(visits[key][0], rows[key])
    if visits["br"]:
        stages = {}
        for v in visits["br"]:
            for entry in v.stages:
                stages.setdefault(entry["stage"], []).append(entry["ms"] / 1000)
        print(
            "\nworker stages on Slow 4G, brotli (median s since navigation): "
            + ", ".join(f"{stage} {statistics.median(t):.1f}" for stage, t in stages.items())
        )


def show_requests(first: Visit, label: str) -> None:
    t0 = min(r.started for r in first.responses)
    print(f"\nresponses of the first {label} visit (bytes written; seconds from the first request):")
    for r in sorted(first.responses, key=lambda r: r.started):
        end = f"{r.finished - t0:6.1f}" if r.finished is not None else "   ..."
        print(f"  {r.wire_bytes:>10,} B  {r.encoding:<8} {r.started - t0:5.1f}-{end}  {r.path}")


if __name__ == "__main__":
    main()
