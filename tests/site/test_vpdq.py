"""vPDQ in the browser (issue 13): MP4/MOV demuxed by mp4box.js in the worker (fetched only for the first video),
WebM/Matroska and fragmented MP4 by Mediabunny (fetched only for the first of those), decoded by WebCodecs, the
decoder's I420 planes hashed by the same Python as natively. In Chromium every corpus video
and the generated edge cases equal the native vPDQ (PyAV, video_native.py) at every kept frame; a codec the browser
cannot decode keeps MD5 and SHA-256 and says why; a damaged file is corrupt_video and the worker goes on; a copy that
gives zeros is caught; a removed video stops; progress comes per second of video."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest

from localhash import hash_bytes
from localhash.hexbits import hamming_hex
from localhash.video_native import vpdq_of_file
from localhash.vpdq_match import match_vpdq, parse_vpdq
from site_build.system import ensure_node_modules
from tests.conftest import CORPUS, ROOT, require_corpus
from tests.site.conftest import hash_in_page
from tests.site.test_firefox import FIREFOX, SMOKE
from tests.video_samples import FFMPEG, make_video_samples
from tests.webkit_page import call, open_page, page_errors, recorded_webkit
from tests.webkit_page import hash_in_page as hash_in_webkit

MP4BOX = ("mp4box.all.mjs", "rolldown-runtime-w6R9maHv.mjs", "styp-9TIZZDLN.mjs")  # its ES module build
MEDIABUNNY = ("mediabunny.min.mjs",)  # its browser ES module build, one file


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> dict:
    """tests/video_samples.py's edge cases (its VP9 WebM also remuxed into MP4), a QuickTime file, one with an
    audio track between the video's samples, HEVC; WebM/Matroska in VP8, AV1 and H.264 (B-frames) with Opus audio;
    fragmented MP4s; a WebM without DefaultDuration."""
    folder = tmp_path_factory.mktemp("videos")
    made = make_video_samples(folder)
    made["vp9_webm_in_mp4"] = folder / "vp9_webm_in.mp4"
    ffmpeg("-i", str(made["vp9_webm"]), "-c", "copy", str(made["vp9_webm_in_mp4"]))
    pattern = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"]
    ntsc = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30000/1001"]
    h264 = ["-t", "3", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast"]
    made["vp8_webm"] = folder / "vp8.webm"
    ffmpeg(*ntsc, "-t", "4", "-pix_fmt", "yuv420p", "-c:v", "libvpx", "-b:v", "300k", str(made["vp8_webm"]))
    made["av1_webm"] = folder / "av1.webm"
    av1 = ["-pix_fmt", "yuv420p", "-c:v", "libaom-av1", "-cpu-used", "8", "-b:v", "200k"]
    ffmpeg(*pattern, "-t", "3", *av1, str(made["av1_webm"]))
    made["h264_opus_mkv"] = folder / "h264_opus.mkv"
    ffmpeg(*ntsc, "-f", "lavfi", "-i", "sine", *h264, "-c:a", "libopus", str(made["h264_opus_mkv"]))
    made["vp9_opus_webm"] = folder / "vp9_opus.webm"
    vp9 = ["-pix_fmt", "yuv420p", "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"]
    ffmpeg(*pattern, "-f", "lavfi", "-i", "sine", "-t", "3", *vp9, "-c:a", "libopus", str(made["vp9_opus_webm"]))
    made["fragmented_mp4"] = folder / "fragmented.mp4"
    fragments = ["-movflags", "frag_keyframe+empty_moov"]
    ffmpeg(*ntsc, *h264, "-t", "5", *fragments, str(made["fragmented_mp4"]))
    # frames 0-59 at 30 fps, then one every 1/12 s, a fragment a second: the rate is every fragment's
    made["fragmented_vfr"] = folder / "fragmented_vfr.mp4"
    vfr = ["-vf", "setpts='if(lt(N,60),N/30,2+(N-60)/12)/TB'", "-fps_mode", "vfr", "-g", "30"]
    at_30 = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30"]
    ffmpeg(*at_30, *h264, "-t", "6", *vfr, *fragments, str(made["fragmented_vfr"]))
    made["webm_cut"] = folder / "webm_cut.webm"  # cut off mid-cluster: FFmpeg hashes the frames that are there
    data = made["vp9_opus_webm"].read_bytes()
    made["webm_cut"].write_bytes(data[: len(data) // 2])
    made["webm_no_default_duration"] = folder / "no_default_duration.webm"
    made["webm_no_default_duration"].write_bytes(without_default_duration(made["vp9_webm"].read_bytes()))
    made["quicktime"] = folder / "quicktime.mov"
    ffmpeg(*pattern, *h264, "-f", "mov", str(made["quicktime"]))
    made["with_audio"] = folder / "with_audio.mp4"
    ffmpeg(*pattern, "-f", "lavfi", "-i", "sine", *h264, "-c:a", "aac", str(made["with_audio"]))
    made["anamorphic"] = folder / "anamorphic.mp4"
    ffmpeg(*pattern, *h264, "-vf", "setsar=4/3", str(made["anamorphic"]))
    made["hevc"] = folder / "hevc.mp4"
    hevc = ["-c:v", "libx265", "-x265-params", "log-level=error", "-tag:v", "hvc1"]
    ffmpeg(*pattern, "-t", "3", "-pix_fmt", "yuv420p", *hevc, str(made["hevc"]))
    return made


def without_default_duration(webm: bytes) -> bytes:
    """The WebM with its video track's DefaultDuration element (ID 23 E3 83, a one-byte size) overwritten by a
    Void element (EC) of the same length, as a recorder that writes none (MediaRecorder) leaves it."""
    data = bytearray(webm)
    at = data.index(b"\x23\xe3\x83")
    length = 4 + (data[at + 3] & 0x7F)
    data[at : at + length] = bytes([0xEC, 0x80 | (length - 2)]) + bytes(length - 2)
    return bytes(data)


EDGE_CASES = [
    "ntsc_29.97fps",
    "full_range_yuvj420p",
    "bt709_tagged",
    "vfr",
    "av1",
    "long_gop_3fps",
    "edit_list",
    "rotated_90",
    "vp9_webm_in_mp4",
    "quicktime",
    "with_audio",
    "anamorphic",
]
# Demuxed by Mediabunny.
WEBM_CASES = [
    "vp9_webm",
    "odd_width_vp9",
    "odd_height_vp9",
    "vp8_webm",
    "av1_webm",
    "h264_opus_mkv",
    "vp9_opus_webm",
    "fragmented_mp4",
]


def native(path) -> dict:
    """The CLI's record of the video: its digests and, with the video extra, its vPDQ."""
    record = hash_bytes(path.read_bytes())
    return {**record, "vpdq": [str(f) for f in vpdq_of_file(str(path))]}


def checked(record: dict) -> dict:
    """The record without its plane check, which must have passed (a browser-only field, as a JPEG's pixel_check)."""
    record = dict(record)
    check = record.pop("vpdq_check")
    assert check["passed"], check
    return record


def frames_identical(record: dict, expected: dict) -> tuple[int, int]:
    got = record.get("vpdq") or []
    return sum(a == b for a, b in zip(got, expected["vpdq"], strict=False)), len(expected["vpdq"])


def mp4box_requests(site, first: int) -> list[str]:
    names = [r["path"].rsplit("/", 1)[-1] for r in site.requests[first:] if r["path"]]
    return [name for name in names if name in MP4BOX]


def test_corpus_videos_are_native_vpdq_frame_for_frame_and_mp4box_comes_with_the_first(page, site):
    require_corpus()
    first = len(site.requests)
    assert hash_in_page(page, (CORPUS / "pdq/images/bridge-mods/blur-a-little.jpg").read_bytes())["ok"]
    assert mp4box_requests(site, first) == [], "a JPEG made the page download the demuxer"
    videos = sorted((CORPUS / "vpdq" / "videos").glob("*.mp4"))
    assert len(videos) >= 8
    found = {}
    for path in videos:
        record, expected = hash_in_page(page, path.read_bytes()), native(path)
        found[path.name] = [*frames_identical(record, expected), record["vpdq_check"]]
        assert checked(record) == {**expected, "vpdq_path": "i420"}, path.name
    print(json.dumps(found))
    fetched = sorted(mp4box_requests(site, first))
    assert fetched == sorted(MP4BOX), "fetched once"
    assert page.errors == []


def test_edge_cases_are_native_vpdq_frame_for_frame(page, samples):
    found = {}
    for name in EDGE_CASES:
        record, expected = hash_in_page(page, samples[name].read_bytes()), native(samples[name])
        found[name] = [*frames_identical(record, expected), record["vpdq_check"]]
        assert checked(record) == {**expected, "vpdq_path": "i420"}, name
    print(json.dumps(found))
    assert page.errors == []


def mediabunny_requests(site, first: int) -> list[str]:
    names = [r["path"].rsplit("/", 1)[-1] for r in site.requests[first:] if r["path"]]
    return [name for name in names if name in MEDIABUNNY]


def test_webm_and_fragmented_mp4_are_native_vpdq_frame_for_frame(page, site, samples):
    first = len(site.requests)
    assert hash_in_page(page, samples["ntsc_29.97fps"].read_bytes())["vpdq"]
    assert mediabunny_requests(site, first) == [], "an MP4 made the page download the WebM demuxer"
    found = {}
    for name in WEBM_CASES:
        record, expected = hash_in_page(page, samples[name].read_bytes()), native(samples[name])
        found[name] = [*frames_identical(record, expected), record.get("vpdq_check")]
        assert "vpdq_error" not in record, (name, record["vpdq_error"])
        assert checked(record) == {**expected, "vpdq_path": "i420"}, name
    print(json.dumps(found))
    assert mediabunny_requests(site, first) == list(MEDIABUNNY), "fetched once"
    assert page.errors == []


def test_a_fragmented_mp4_at_a_variable_rate_is_native_vpdq(page, samples):
    # its rate is every fragment's samples over the sum of their trun durations (mov.c), not Mediabunny's
    # packet durations, which differ when the rate changes between fragments
    record, expected = hash_in_page(page, samples["fragmented_vfr"].read_bytes()), native(samples["fragmented_vfr"])
    assert checked(record) == {**expected, "vpdq_path": "i420"}


def test_a_webm_without_default_duration_keeps_its_digests_and_says_why(page, samples):
    # FFmpeg guesses such a stream's rate from the packets it probes (avformat_find_stream_info): not reproduced
    data = samples["webm_no_default_duration"].read_bytes()
    record = hash_in_page(page, data)
    error = record.pop("vpdq_error")
    assert record == hash_bytes(data) and error["code"] == "unsupported_container", error
    assert "DefaultDuration" in error["message"]


def test_a_cut_off_webm_keeps_its_digests_and_says_why(page, samples):
    # FFmpeg decodes the frames of the cut cluster, Mediabunny leaves it out: no vPDQ rather than another one
    data = samples["webm_cut"].read_bytes()
    assert native(samples["webm_cut"])["vpdq"], "FFmpeg hashes what is there"
    record = hash_in_page(page, data)
    error = record.pop("vpdq_error")
    assert record == hash_bytes(data) and error["code"] == "unsupported_container" and "cut off" in error["message"]


def test_a_damaged_webm_is_corrupt_video_and_the_next_still_hashes(page, samples):
    data = samples["vp9_opus_webm"].read_bytes()
    for damaged in (data[:200], data[:40] + b"junk" * 64):
        record = hash_in_page(page, damaged)
        assert record["ok"] is False and record["error"]["code"] == "corrupt_video", record
    assert hash_in_page(page, data)["vpdq"] == native(samples["vp9_opus_webm"])["vpdq"]
    assert page.errors == []


def test_a_codec_the_browser_cannot_decode_keeps_its_digests_and_says_why(page, samples):
    # Debian's Chromium decodes H.264, VP8, VP9 and AV1, not HEVC (proprietary_codecs without HEVC)
    record = hash_in_page(page, samples["hevc"].read_bytes())
    expected = hash_bytes(samples["hevc"].read_bytes())
    error = record.pop("vpdq_error")
    assert record == expected and error["code"] == "unsupported_codec" and "hvc1" in error["message"]


def test_a_damaged_video_is_corrupt_video_and_the_next_still_hashes(page, samples):
    data = samples["ntsc_29.97fps"].read_bytes()
    at = data.index(b"moov") - 4
    for damaged in (data[: len(data) // 3], data[:at] + b"\0\0\0\x10junkjunkjunkjunk"):
        record = hash_in_page(page, damaged)
        assert record["ok"] is False and record["error"]["code"] == "corrupt_video", record
    assert hash_in_page(page, data)["vpdq"] == native(samples["ntsc_29.97fps"])["vpdq"]
    assert page.errors == []


# A Mediabunny whose parser never returns, as 1.61.0's does on some damaged WebM headers (served in its place).
LOOPING_MEDIABUNNY = """
export class Input { constructor() {} async getVideoTracks() { for (;;) {} } dispose() {} }
export class BlobSource { constructor() {} }
export class EncodedPacketSink {}
export const WEBM = {}, MATROSKA = {}, MP4 = {}, QTFF = {};
"""


def test_a_video_reader_that_never_returns_is_replaced_and_the_video_keeps_its_digests(browser, site, samples):
    """A demuxer stuck in a loop holds the worker's thread for good: after a minute without a word about the
    video, the page replaces the worker; the video keeps its digests and says why it has no vPDQ, and the next
    file hashes in the new worker."""
    context = browser.new_context()
    page = context.new_page()
    looping = {"body": LOOPING_MEDIABUNNY, "content_type": "text/javascript"}
    page.route("**/mediabunny.min.mjs", lambda route: route.fulfill(**looping))
    page.goto(site.url)
    page.evaluate("window.localhash.ready")
    webm = samples["vp9_webm"].read_bytes()
    record = hash_in_page(page, webm)
    after = hash_in_page(page, samples["ntsc_29.97fps"].read_bytes())
    context.close()
    error = record.pop("vpdq_error")
    assert error["code"] == "video_stalled" and record == hash_bytes(webm), (error, record)
    assert after["vpdq"] == native(samples["ntsc_29.97fps"])["vpdq"]


# Faults injected into the worker's VideoFrame.copyTo (prepended to worker.js as it is served).
ZERO_COPY = """
VideoFrame.prototype.copyTo = async function (destination, options) {
  const view = ArrayBuffer.isView(destination);
  const bytes = view ? new Uint8Array(destination.buffer, destination.byteOffset, destination.byteLength) : null;
  (bytes || new Uint8Array(destination)).fill(0);
  return (options && options.layout) || [];
};
"""
SWAPPED_CHROMA = """
const copyTo = VideoFrame.prototype.copyTo;
VideoFrame.prototype.copyTo = async function (destination, options) {
  const layout = await copyTo.call(this, destination, options);
  if (layout.length === 3) {
    const bytes = new Uint8Array(destination.buffer, destination.byteOffset, destination.byteLength);
    const size = layout[2].offset - layout[1].offset;
    const u = bytes.slice(layout[1].offset, layout[2].offset);
    bytes.copyWithin(layout[1].offset, layout[2].offset, layout[2].offset + size);
    bytes.set(u, layout[2].offset);
  }
  return layout;
};
"""
# The engine's RGBA conversion the planes are checked against, red and blue swapped: the check must see it.
SWAPPED_REFERENCE = """
const copyTo = VideoFrame.prototype.copyTo;
VideoFrame.prototype.copyTo = async function (destination, options) {
  const layout = await copyTo.call(this, destination, options);
  if (options && options.format === "RGBA") {
    const bytes = new Uint8Array(destination.buffer, destination.byteOffset, destination.byteLength);
    for (let i = 0; i < bytes.length; i += 4) [bytes[i], bytes[i + 2]] = [bytes[i + 2], bytes[i]];
  }
  return layout;
};
"""
# An engine whose copyTo ignores `format` (WebKit's has no such member): it copies the planes and says so.
FORMAT_IGNORED = """
const copyTo = VideoFrame.prototype.copyTo;
VideoFrame.prototype.copyTo = function (destination, options) {
  const { format, ...known } = options || {};
  return copyTo.call(this, destination, known);
};
"""


def hashed_with(browser, site, fault: str, data: bytes) -> dict:
    """The record of `data` hashed by the site with `fault` prepended to worker.js as it is served."""
    context = browser.new_context()
    page = context.new_page()

    def faulty(route):
        response = route.fetch()
        route.fulfill(response=response, body=fault + response.text())

    page.route("**/worker.js", faulty)
    page.goto(site.url)
    page.evaluate("window.localhash.ready")
    record = hash_in_page(page, data)
    context.close()
    return record


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        pytest.param(ZERO_COPY, "pixels_implausible", id="zeros"),
        pytest.param(SWAPPED_CHROMA, "pixels_differ", id="uv"),
        pytest.param(SWAPPED_REFERENCE, "pixels_differ", id="reference"),
    ],
)
def test_a_copy_that_goes_wrong_is_caught(browser, site, samples, fault, code):
    record = hashed_with(browser, site, fault, samples["ntsc_29.97fps"].read_bytes())
    assert record["ok"] and "vpdq" not in record, record
    assert record["vpdq_error"]["code"] == code
    assert record["md5"] == hash_bytes(samples["ntsc_29.97fps"].read_bytes())["md5"]


def test_an_engine_that_ignores_copyto_format_is_checked_against_its_canvas(browser, site, samples):
    """Its RGBA "conversion" would be the planes: the layout it answers gives it away, and the drawing is used."""
    record = hashed_with(browser, site, FORMAT_IGNORED, samples["ntsc_29.97fps"].read_bytes())
    assert checked(record)["vpdq"] == native(samples["ntsc_29.97fps"])["vpdq"]


PROGRESS = """async ([b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const progress = [];
  const onProgress = (done, total, unit) => progress.push([done, total, unit]);
  const record = await window.localhash.hashFile(new Blob([bytes]), { onProgress });
  return { record, progress };
}"""


def test_progress_is_per_second_of_video(page, samples):
    data = samples["long_gop_3fps"].read_bytes()  # 8 s at 3 fps
    run = page.evaluate(PROGRESS, [base64.b64encode(data).decode()])
    assert checked(run["record"])["vpdq"] == native(samples["long_gop_3fps"])["vpdq"]
    seconds = [[done, total] for done, total, unit in run["progress"] if unit == "seconds"]
    assert seconds == [[s, 8] for s in range(9)], run["progress"]
    assert [unit for _, _, unit in run["progress"]][0] == "bytes", "the digests' reading comes first"


# The worker as hasher.js drives it, talked to directly, so that what it does after a cancel is seen: a video
# cancelled once its frames reach the second second stops there (no later progress, a `cancelled` result),
# and the worker hashes the next file.
CANCEL = """async ([b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const worker = new Worker("worker.js", { type: "module" });
  const seen = [];
  const results = {};
  await new Promise((resolve) => {
    worker.onmessage = ({ data }) => {
      if (data.type === "ready") {
        worker.postMessage({ id: 1, type: "hash", blob: new Blob([bytes]), options: {} });
        worker.postMessage({ id: 2, type: "hash", blob: new Blob([bytes]), options: {} });
      }
      if (data.type === "progress" && data.unit === "seconds") {
        seen.push([data.id, data.done]);
        if (data.id === 1 && data.done === 2) worker.postMessage({ type: "cancel", id: 1 });
      }
      if (data.type === "result") {
        results[data.id] = data.record;
        if (data.id === 2) resolve();
      }
    };
  });
  worker.terminate();
  return { seen, results };
}"""


def test_a_cancelled_video_stops_and_the_worker_goes_on(page):
    require_corpus()
    path = CORPUS / "vpdq/videos/chair-20-sd-bar.mp4"  # 21 s
    run = page.evaluate(CANCEL, [base64.b64encode(path.read_bytes()).decode()])
    first = [done for job, done in run["seen"] if job == 1]
    assert run["results"]["1"]["error"]["code"] == "cancelled", run["results"]["1"]
    assert max(first) <= 4, f"the worker went on after the cancel: {first}"
    assert run["results"]["2"]["vpdq"] == native(path)["vpdq"]
    assert page.errors == []


def within_metas_matcher(record: dict, expected: dict) -> dict:
    """How an RGB-path vPDQ compares with the native one: same frames and timestamps, bits apart per frame, and
    Meta's matcher's verdict both ways."""
    got, want = record["vpdq"], expected["vpdq"]
    times = [s.rsplit(",", 1)[1] for s in got] == [s.rsplit(",", 1)[1] for s in want]
    bits = [hamming_hex(a.split(",")[0], b.split(",")[0]) for a, b in zip(got, want, strict=False)]
    ours, theirs = parse_vpdq(json.dumps(got)), parse_vpdq(json.dumps(want))
    verdicts = [match_vpdq(ours, theirs).is_match(), match_vpdq(theirs, ours).is_match()]
    itself = match_vpdq(theirs, theirs).is_match()  # a video whose frames are all under quality 50 matches nothing
    return {"frames": [len(got), len(want)], "times": times, "bits": bits, "match": verdicts, "native": itself}


FIREFOX_CASES = [
    "ntsc_29.97fps",
    "full_range_yuvj420p",
    "edit_list",
    "rotated_90",
    "av1",
    "vp9_webm_in_mp4",
    "vp9_webm",
    "fragmented_mp4",
]


def test_firefox_hashes_its_rgb_frames_within_metas_matcher(site, samples):
    """Firefox's WebCodecs hands out BGRX frames (its own conversion to RGB), never the decoder's planes: the rgba
    path, near native, and a match for Meta's matcher on every video; HEVC keeps its digests and says why."""
    require_corpus()
    if not FIREFOX.exists():
        pytest.fail(f"{FIREFOX} is missing: `python3 build.py test` installs Debian's firefox-esr")
    ensure_node_modules(ROOT)
    paths = sorted((CORPUS / "vpdq" / "videos").glob("*.mp4")) + [samples[n] for n in [*FIREFOX_CASES, "hevc"]]
    result = subprocess.run(
        ["node", SMOKE, site.url, *map(str, paths)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"firefox_smoke.mjs failed:\n{result.stderr[-4000:]}"
    run = json.loads(result.stdout)
    assert "Firefox/" in run["userAgent"] and run["errors"] == []
    found = {}
    for path, record in zip(paths[:-1], run["records"][:-1], strict=True):
        expected = native(path)
        assert {k: record[k] for k in ("ok", "md5", "sha256")} == {k: expected[k] for k in ("ok", "md5", "sha256")}
        assert record["vpdq_path"] == "rgba", (path.name, record)
        found[path.name] = {**within_metas_matcher(record, expected), "check": record["vpdq_check"]}
        assert record["vpdq_check"]["passed"], (path.name, record["vpdq_check"])  # the copy is what Firefox draws
    print(json.dumps(found))
    for name, entry in found.items():
        assert entry["times"] and entry["match"] == [entry["native"]] * 2, (name, entry)
    hevc = run["records"][-1]
    assert hevc["ok"] and hevc["md5"] == native(samples["hevc"])["md5"]
    assert hevc["vpdq_error"]["code"] == "unsupported_codec"


def test_webkit_hashes_what_it_decodes_and_says_why_not_otherwise(site, samples):
    """WebKitGTK decodes through GStreamer: whatever codecs its plugins cover (none of these here, where Debian's
    WebKitGTK lacks the parsers) must be near native; the others keep their digests with unsupported_codec."""
    require_corpus()
    names = ("av1", "vp9_webm_in_mp4", "vp9_webm", "hevc")
    paths = [CORPUS / "vpdq/videos/doorknob-hd-no-bar.mp4"] + [samples[n] for n in names]
    with recorded_webkit(site.origin) as (driver, _):
        open_page(driver, site.url)
        call(driver, "() => window.localhash.ready.then(() => true)")
        records = [hash_in_webkit(driver, path.read_bytes()) for path in paths]
        errors = page_errors(driver)
    assert errors == []
    found = {}
    for path, record in zip(paths, records, strict=True):
        expected = native(path)
        assert {k: record[k] for k in ("ok", "md5", "sha256")} == {k: expected[k] for k in ("ok", "md5", "sha256")}
        if "vpdq" in record:
            found[path.name] = within_metas_matcher(record, expected)
            assert found[path.name]["match"] == [found[path.name]["native"]] * 2, (path.name, found[path.name])
        else:
            found[path.name] = record["vpdq_error"]
            assert record["vpdq_error"]["code"] == "unsupported_codec", (path.name, record)
    print(json.dumps(found))


def test_memory_stays_flat_with_the_length_of_the_video(page, tmp_path):
    """A video of 60 s leaves the worker's wasm heap where one of 5 s left it: one frame's buffers, reused."""
    made = {}
    for seconds in (5, 60):
        made[seconds] = tmp_path / f"{seconds}s.mp4"
        pattern = ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-t", str(seconds)]
        ffmpeg(*pattern, "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", str(made[seconds]))
    heaps = {}
    for seconds, path in made.items():
        record = hash_in_page(page, path.read_bytes())
        assert len(record["vpdq"]) == seconds, record.get("vpdq_error")
        heaps[seconds] = page.evaluate("window.localhash.heapAfterLastFile")
    assert heaps[60] == heaps[5], heaps
