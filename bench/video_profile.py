"""Where a video's vPDQ time goes, in Chromium and natively, for bench/video.py --profile.

In the browser, worker.js is served with a prefix (as tests/site/test_vpdq.py injects its faults) that times
VideoFrame.copyTo (the planes, and the check's RGBA where the engine converts) and the check's canvas drawing where
it does not, and wraps localhash's Python steps (the check, swscale's YUV to RGB with PDQ's luma, its filter and its
DCT; a job in steps by its steps' sum) with timers; a second job on the same blob then decodes every frame and keeps
none (demux and decode alone). Natively the same Python steps are timed around vpdq_of_file, and PyAV decodes the
clip alone. One fresh browser or process per clip, a single run: the shares matter, not the last digit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Python timers, installed in the worker's Pyodide (and natively) before a video: seconds per step, calls per step.
PATCH = r"""
import json, time
import localhash.pdq as P, localhash.video_browser as B, localhash.vpdq as V
TIMES, CALLS = {}, {}
def count(name, t, calls=1):
    TIMES[name] = TIMES.get(name, 0.0) + time.perf_counter() - t
    CALLS[name] = CALLS.get(name, 0) + calls
def timed(name, f):
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return f(*args, **kwargs)
        finally:
            count(name, t)
    return wrapper
def timed_steps(name, f):  # a job in steps (a generator): the time of its steps, one call per job
    def wrapper(*args, **kwargs):
        steps, calls = f(*args, **kwargs), 1
        while True:
            t = time.perf_counter()
            try:
                next(steps)
            except StopIteration as done:
                count(name, t, calls)
                return done.value
            count(name, t, calls)
            calls = 0
            yield
    return wrapper
V.VpdqHasher._luma = timed("yuv_to_luma", V.VpdqHasher._luma)
P.PdqStream.feed_luma_steps = timed_steps("pdq_filter", P.PdqStream.feed_luma_steps)
P.PdqStream.result = timed("pdq_dct_quality", P.PdqStream.result)
B.plane_check_steps = timed_steps("plane_check", B.plane_check_steps)
B.FrameJob.step = timed("push", B.FrameJob.step)
V.VpdqHasher.steps = timed_steps("vpdq_push", V.VpdqHasher.steps)
B.VideoFrames.take = timed("take", B.VideoFrames.take)
def timings():
    out = {name: {"s": TIMES[name], "calls": CALLS[name]} for name in TIMES}
    TIMES.clear(); CALLS.clear()
    return json.dumps(out)
"""

# Worker.js's prefix. The second video job of the worker is decode-only: vpdq wants no frame, each is counted.
PREFIX = """
self.lhBench = { jobs: 0, decodeOnly: false, js: {} };
const lhTimed = (name, target, key) => {
  const original = target[key];
  target[key] = function (...args) {
    const t = performance.now();
    const done = () => {
      const entry = (self.lhBench.js[name] ||= { ms: 0, calls: 0 });
      entry.ms += performance.now() - t;
      entry.calls += 1;
    };
    const result = original.apply(this, args);
    if (result && typeof result.then === "function") return result.finally(done);
    done();
    return result;
  };
};
lhTimed("copyTo", VideoFrame.prototype, "copyTo");
lhTimed("drawImage", OffscreenCanvasRenderingContext2D.prototype, "drawImage");
lhTimed("getImageData", OffscreenCanvasRenderingContext2D.prototype, "getImageData");
self.addEventListener("message", ({ data }) => {
  if (!data || data.type !== "hash" || !runtime) return;
  if (!self.lhBench.jobs++) {
    runtime.runPython(PATCH_PY);
    runtime.globals.set("lh_decode_only", () => self.lhBench.decodeOnly);
    runtime.runPython(`
_take = B.VideoFrames.take
def _counted(self):
    if lh_decode_only():
        self.hasher.decoded += 1
        return False
    return _take(self)
B.VideoFrames.take = _counted
`);
  }
  self.lhBench.decodeOnly = self.lhBench.jobs === 2;
  self.lhBench.js = {};
  runtime.runPython("timings()");
});
const lhPost = self.postMessage.bind(self);
self.postMessage = (message, transfer) => {
  if (message && message.type === "result" && message.record && runtime) {
    message.record.bench = { js: self.lhBench.js, python: JSON.parse(runtime.runPython("timings()")) };
  }
  return transfer ? lhPost(message, transfer) : lhPost(message);
};
"""

# The page hashes the clip twice in one worker: the whole record (instrumented), then decode-only.
PROFILE_JS = """async (path) => {
  await window.localhash.ready;
  const blob = await (await fetch(path)).blob();
  const runs = [];
  for (let i = 0; i < 2; i++) {
    let firstSecond = null;
    const onProgress = (done, total, unit) => {
      if (unit === "seconds" && firstSecond === null) firstSecond = performance.now();
    };
    const t = performance.now();
    const record = await window.localhash.hashFile(blob, { onProgress });
    const end = performance.now();
    runs.push({ ms: end - t, digests_ms: (firstSecond ?? end) - t, frames: (record.vpdq || []).length,
                bench: record.bench, ok: record.ok });
  }
  return runs;
}"""

NATIVE_PROFILE = r"""
import json, sys, time
exec(sys.argv[2])
import av
from localhash.video_native import vpdq_of_file
path = sys.argv[1]
t = time.perf_counter()
with av.open(path) as container:
    stream = container.streams.video[0]
    stream.codec_context.thread_type = "AUTO"
    decoded = sum(1 for packet in container.demux(stream) for _ in packet.decode())
decode = time.perf_counter() - t
timings()
t = time.perf_counter(); kept = len(vpdq_of_file(path)); total = time.perf_counter() - t
python = json.loads(timings())
import vpdq
seconds = {}
for threads in (1, 0):  # vpdq's hashing threads: one, then its default (one per core)
    t = time.perf_counter(); vpdq.computeHash(path, seconds_per_hash=1.0, thread_count=threads)
    seconds[threads] = time.perf_counter() - t
print(json.dumps({"decode_s": decode, "decoded": decoded, "total_s": total, "kept": kept, "python": python,
                  "vpdq_1_s": seconds[1], "vpdq_s": seconds[0]}))
"""

STEPS = ["plane_check", "yuv_to_luma", "pdq_filter", "pdq_dct_quality"]
SHOWN = ["whole", "digests", "decode only", "copyTo", "canvas", "check", "yuv->luma", "filter", "dct+qual"]
SHOWN += ["vpdq push", "push"]


def native_profile(path: Path) -> dict:
    env = {"PYTHONPATH": str(ROOT / "py")}
    done = subprocess.run(
        [sys.executable, "-c", NATIVE_PROFILE, str(path), PATCH], capture_output=True, text=True, check=True, env=env
    )
    return json.loads(done.stdout)


def browser_profile(playwright, url: str, served: str) -> list[dict]:
    from bench.video import launch

    browser = launch(playwright, "profile")
    try:
        page = browser.new_page()
        prefix = PREFIX.replace("PATCH_PY", json.dumps(PATCH))

        def instrumented(route):
            response = route.fetch()
            route.fulfill(response=response, body=prefix + response.text())

        page.route("**/worker.js", instrumented)
        page.goto(url)
        return page.evaluate(PROFILE_JS, served)
    finally:
        browser.close()


def print_profile(playwright, url: str, clips: dict[str, tuple[str, Path]]) -> None:
    """One instrumented fresh browser and one native process per clip ({label: (served path, file)})."""
    print("\nprofile, one run each, ms per kept frame (and the whole clip, s):")
    print(f"{'':<16}" + "".join(f"{h:>12}" for h in SHOWN))
    for label, (served, path) in clips.items():
        full, decode_only = browser_profile(playwright, url, served)
        assert full["ok"] and decode_only["ok"] and decode_only["frames"] == 0, (full, decode_only)
        kept = full["frames"]
        js, py = full["bench"]["js"], full["bench"]["python"]
        canvas = sum(js.get(k, {"ms": 0})["ms"] for k in ("drawImage", "getImageData"))
        cells = [full["ms"] / 1000, full["digests_ms"] / 1000, decode_only["ms"] / 1000]
        cells += [js.get("copyTo", {"ms": 0})["ms"] / kept, canvas / kept]
        cells += [py.get(step, {"s": 0})["s"] * 1000 / kept for step in [*STEPS, "vpdq_push", "push"]]
        print(f"{'Chromium ' + label:<16}" + "".join(f"{c:>11.2f}{'s' if i < 3 else ' '}" for i, c in enumerate(cells)))
        ours = native_profile(path)
        py = ours["python"]
        cells = [ours["total_s"], 0.0, ours["decode_s"], 0.0, 0.0]
        cells += [py.get(step, {"s": 0})["s"] * 1000 / ours["kept"] for step in [*STEPS, "vpdq_push", "push"]]
        print(f"{'native ' + label:<16}" + "".join(f"{c:>11.2f}{'s' if i < 3 else ' '}" for i, c in enumerate(cells)))
        chromium_work = (js.get("copyTo", {"ms": 0})["ms"] + canvas) / 1000 + full["bench"]["python"]["push"]["s"]
        native_work = py["vpdq_push"]["s"]
        print(
            f"{'':<16}one after the other? Chromium: decode only {decode_only['ms'] / 1000:.1f} s + kept frames' "
            f"copy, canvas and Python {chromium_work:.1f} s = {decode_only['ms'] / 1000 + chromium_work:.1f} s, "
            f"whole {full['ms'] / 1000:.1f} s;\n{'':<16}native: decode {ours['decode_s']:.1f} s + Python "
            f"{native_work:.1f} s = {ours['decode_s'] + native_work:.1f} s, whole {ours['total_s']:.1f} s; "
            f"vpdq {ours['vpdq_s']:.1f} s, with one hashing thread {ours['vpdq_1_s']:.1f} s"
        )
    print(
        "whole: the record in Chromium (digests, demux, decode, copy, check, vPDQ), native vpdq_of_file;\n"
        "decode only: the same worker again keeping no frame (digests, demux, decode), natively PyAV alone;\n"
        "copyTo: the planes' copy and, where the engine converts (Chromium), the check's RGBA of the frame;\n"
        "canvas: the check's drawing where it does not (drawImage, getImageData); vpdq push: VpdqHasher's\n"
        "steps (swscale's YUV to RGB with PDQ's luma, PDQ's filter, DCT and quality); push: the kept frames'\n"
        "FrameJob steps, the check (plane_check) and vpdq push."
    )
