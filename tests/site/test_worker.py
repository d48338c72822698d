"""The worker is disposable: restarting it mid-queue loses no job, and it boots in named stages."""

from __future__ import annotations

from localhash import hash_bytes
from tests.conftest import PDQ_IMAGES, require_corpus
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
    assert records[1:] == [hash_bytes(s) for s in small]
    # And the fresh worker keeps working.
    again = page.evaluate(HASH_IN_PAGE, [base64.b64encode(small[0]).decode(), {}])
    assert again == hash_bytes(small[0])
