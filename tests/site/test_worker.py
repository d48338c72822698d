"""The worker is disposable: restarting it mid-queue loses no job, and it boots in named stages."""

from __future__ import annotations

from localhash import hash_bytes
from tests.conftest import PDQ_IMAGES, native_fields, require_corpus
from tests.site.conftest import HASH_IN_PAGE


def test_boot_reports_each_stage_in_order(page):
    stages = [entry["stage"] for entry in page.evaluate("window.localhash.stageLog")]
    assert stages == ["runtime", "packages", "localhash", "ready"]


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


def test_a_large_video_is_hashed_in_chunks_with_progress(page):
    """A 100 MB "video" made in the page: exact hashes equal hashlib's, read in 8 MiB slices."""
    import hashlib

    size = 100 * 2**20
    header = b"\0\0\0\x20ftypisom" + b"\0" * 20
    result = page.evaluate(
        """async ([size, header]) => {
             const bytes = new Uint8Array(size);
             bytes.set(header);
             for (let i = header.length; i < size; i += 4096) bytes[i] = (i / 4096) % 251;
             const events = [];
             const record = await window.localhash.hashFile(new Blob([bytes]), {
               onProgress: (done, total) => events.push([done, total]) });
             return {record, events};
           }""",
        [size, list(header)],
    )
    data = bytearray(size)
    data[: len(header)] = header
    for i in range(len(header), size, 4096):
        data[i] = (i // 4096) % 251
    record = result["record"]
    assert record == {
        "ok": True,
        "media": "video",
        "format": "MP4",
        "md5": hashlib.md5(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    done = [d for d, _ in result["events"]]
    assert len(done) == size // (8 * 2**20) + 1 and done == sorted(done) and done[-1] == size
