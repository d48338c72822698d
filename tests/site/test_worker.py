"""The worker is disposable: restarting it mid-queue loses no job, and it boots in named stages."""

from __future__ import annotations

from localhash import hash_bytes
from site_build.dist import runtime_dir
from tests.conftest import PDQ_IMAGES, native_fields, require_corpus
from tests.site.conftest import HASH_IN_PAGE, Server


def test_boot_reports_each_stage_in_order(page):
    stages = [entry["stage"] for entry in page.evaluate("window.localhash.stageLog")]
    assert stages == ["runtime", "packages", "localhash", "ready"]


def test_the_packages_download_beside_the_runtime_and_each_file_only_once(browser, dist):
    """worker.js asks for the wheels as soon as it starts, not after Pyodide has booted, and hands
    those responses to Pyodide: nothing is downloaded twice (a visit on mobile data pays once).
    The standard library is held back, so Pyodide cannot boot: the wheels must be asked for anyway."""
    server, context = Server(dist), browser.new_context()
    held, wheels_asked = [], []
    context.route("**/python_stdlib.zip", lambda route: held.append(route))
    context.on("request", lambda request: request.url.endswith(".whl") and wheels_asked.append(request.url))
    try:
        page = context.new_page()
        page.goto(server.url)
        for _ in range(200):
            if len(wheels_asked) >= 3 and held:
                break
            page.wait_for_timeout(100)
        assert held, "the standard library was never asked for"
        assert len(wheels_asked) == 3, "the wheels were not asked for while the runtime was still loading"
        for route in held:
            route.continue_()
        page.evaluate("window.localhash.ready")
    finally:
        context.close()
        server.close()
    runtime = f"/{runtime_dir(dist).name}/"
    paths = [r["path"] for r in server.requests if r["path"].startswith(runtime)]
    assert len([p for p in paths if p.endswith(".whl")]) == 3
    assert sorted(paths) == sorted(set(paths)), "a runtime file was downloaded twice"


def test_restart_mid_queue_fails_only_the_running_job(page):
    require_corpus()
    import base64

    big = (PDQ_IMAGES / "reg-test-input/exif-rotn/exif-rotn-1.jpg").read_bytes()  # 12 MP: still running
    small = [(PDQ_IMAGES / p).read_bytes() for p in ("misc-images/wee.jpg", "pytx-resources/LA.png")]
    records = page.evaluate(
        """async ([big, small]) => {
             const blob = (b64) => new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))]);
             const first = window.localhash.hashFile(blob(big));
             const rest = small.map((b) => window.localhash.hashFile(blob(b)));
             await new Promise((r) => setTimeout(r, 300));   // the big one has started
             window.localhash.restartWorker();
             return Promise.all([first, ...rest]);
           }""",
        [base64.b64encode(big).decode(), [base64.b64encode(s).decode() for s in small]],
    )
    assert records[0]["ok"] is False and records[0]["error"]["code"] == "worker_restarted"
    assert [native_fields(r) for r in records[1:]] == [hash_bytes(s) for s in small]
    # And the fresh worker keeps working.
    again = page.evaluate(HASH_IN_PAGE, [base64.b64encode(small[0]).decode(), {}])
    assert native_fields(again) == hash_bytes(small[0])


def hevc_header(folder) -> bytes:
    """The ftyp and moov boxes of a small HEVC MP4 (moov first): a video Chromium cannot decode (Debian's has no
    HEVC), so that what follows them is only read for the digests."""
    import subprocess

    from tests.video_samples import FFMPEG

    path = folder / "hevc.mp4"
    pattern = ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-t", "1", "-pix_fmt", "yuv420p"]
    codec = ["-c:v", "libx265", "-x265-params", "log-level=error", "-tag:v", "hvc1", "-movflags", "+faststart"]
    codec += ["-loglevel", "error", "-y"]
    subprocess.run([FFMPEG, *pattern, *codec, str(path)], check=True)
    data = path.read_bytes()
    return data[: data.index(b"mdat") - 4]


def test_a_large_video_is_hashed_in_chunks_with_progress(page, tmp_path):
    """A 100 MB video made in the page: exact hashes equal hashlib's, read in 8 MiB slices (its codec is one
    the browser cannot decode: the record says so, and keeps them)."""
    import hashlib
    import struct

    size = 100 * 2**20
    boxes = hevc_header(tmp_path)
    header = boxes + struct.pack(">I", size - len(boxes)) + b"mdat"
    result = page.evaluate(
        """async ([size, header]) => {
             const bytes = new Uint8Array(size);
             bytes.set(header);
             for (let i = header.length; i < size; i += 4096) bytes[i] = (i / 4096) % 251;
             const events = [];
             const record = await window.localhash.hashFile(new Blob([bytes]), {
               onProgress: (done, total, unit) => events.push([done, total, unit]) });
             return {record, events};
           }""",
        [size, list(header)],
    )
    data = bytearray(size)
    data[: len(header)] = header
    for i in range(len(header), size, 4096):
        data[i] = (i // 4096) % 251
    record = result["record"]
    assert record.pop("vpdq_error")["code"] == "unsupported_codec"
    assert record == {
        "ok": True,
        "media": "video",
        "format": "MP4",
        "md5": hashlib.md5(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    done = [d for d, _, unit in result["events"] if unit == "bytes"]
    assert len(done) == size // (8 * 2**20) + 1 and done == sorted(done) and done[-1] == size
