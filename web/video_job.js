// A video's record in the worker (web/worker.js hands it every video): its MD5 and SHA-256, read in slices, then
// its vPDQ from the browser's decoder (video.js, imported with mp4box.js the first time someone chooses a video, and
// only then; Mediabunny the first time a WebM or a fragmented MP4 needs it). The record says why a video has no vPDQ
// (vpdq_error) and keeps its digests; a container that cannot be read is corrupt_video, as natively.

import { Cancelled } from "./video_errors.js";

export { Cancelled };

const CHUNK_BYTES = 8 * 1024 * 1024; // videos are read in 8 MiB slices: memory stays flat
// ...and handed to Python's digests 1 MiB at a time, each copied into wasm memory: the wasm heap, which never
// shrinks, then holds no 8 MiB copy (more than a 640x360 frame's vPDQ needs: a video over 8 MiB grew it).
const DIGEST_BYTES = 1024 * 1024;

// `demuxers`: {mp4box(), mediabunny()}, each importing that module from the runtime folder (worker.js names the
// folder, whose name the build fills in).
let videoModules = null; // Promise of {video, mp4box}, once asked for
function loadVideo(demuxers) {
  if (!videoModules) {
    videoModules = Promise.all([import("./video.js"), demuxers.mp4box()]).then(([video, mp4box]) => ({ video, mp4box }));
    videoModules.catch(() => (videoModules = null)); // a failed download is tried again with the next video
  }
  return videoModules;
}
let mediabunnyModule = null; // Promise of Mediabunny's module, once asked for
function loadMediabunny(demuxers, video) {
  if (!mediabunnyModule) {
    mediabunnyModule = demuxers.mediabunny();
    mediabunnyModule.catch(() => (mediabunnyModule = null)); // tried again with the next video that needs it
  }
  return mediabunnyModule.catch((error) => {
    const message = `the WebM reader could not be loaded (${String(error && error.message ? error.message : error).slice(0, 200)})`;
    throw new video.NoVpdq("demuxer_not_loaded", message);
  });
}

function toRecord(proxy) {
  try {
    return proxy.toJs({ dict_converter: Object.fromEntries });
  } finally {
    proxy.destroy();
  }
}

function withFields(hasher, fields) {
  try {
    return toRecord(hasher.record(fields));
  } finally {
    fields.destroy();
  }
}

// The record of video `id` (the File `blob`, whose first bytes named its `container`). `python`: the module
// localhash.browser; `post`: how the worker messages the page; `cancelled()`: whether the page removed the file.
// Throws Cancelled when it did.
export async function hashVideo({ id, blob, container, python, post, cancelled, demuxers }) {
  const hasher = python.VideoHasher(container);
  // The video reader downloads while the digests are computed (a failure is met below, once awaited).
  const modulesLoading = loadVideo(demuxers);
  modulesLoading.catch(() => {});
  try {
    // Each slice is read while the one before is hashed: two slices at most in memory. A read that fails is
    // met when awaited (not left unhandled should the person cancel first).
    const slice = (offset) => {
      if (offset >= blob.size) return null;
      const read = blob.slice(offset, offset + CHUNK_BYTES).arrayBuffer();
      read.catch(() => {});
      return read;
    };
    let reading = slice(0);
    for (let offset = 0; offset < blob.size; offset += CHUNK_BYTES) {
      if (cancelled()) throw new Cancelled();
      const chunk = new Uint8Array(await reading);
      reading = slice(offset + CHUNK_BYTES);
      for (let at = 0; at < chunk.length; at += DIGEST_BYTES) hasher.update(chunk.subarray(at, at + DIGEST_BYTES));
      post({ type: "progress", id, done: Math.min(offset + CHUNK_BYTES, blob.size), total: blob.size, unit: "bytes" });
    }
    let modules;
    try {
      modules = await modulesLoading;
    } catch (error) {
      const message = `the video reader could not be loaded (${String(error && error.message ? error.message : error).slice(0, 200)})`;
      return withFields(hasher, python.vpdq_unavailable("demuxer_not_loaded", message));
    }
    const { video, mp4box } = modules;
    // From here a demuxer or decoder that loops or never answers would hold the worker for good: the page
    // replaces a worker silent for a minute in this stage, and gives the person this record instead (the
    // digests stand; hasher.js VIDEO_STALL_MS).
    const stalled = python.vpdq_unavailable("video_stalled", "the browser's video reader stopped answering for a minute");
    post({ type: "video", id, fallback: withFields(hasher, stalled) });
    const hooks = {
      progress: (done, total) => post({ type: "progress", id, done, total, unit: "seconds" }),
      cancelled,
    };
    let frames;
    try {
      const readers = { mp4box, mediabunny: () => loadMediabunny(demuxers, video) };
      frames = await video.decodeVideo(blob, String(hasher.container), readers, python, hooks);
    } catch (error) {
      if (error instanceof video.NoVpdq) return withFields(hasher, python.vpdq_unavailable(error.code, error.message));
      if (error instanceof video.CorruptVideo) return toRecord(python.video_corrupt(error.message));
      throw error; // Cancelled among them
    }
    try {
      return toRecord(hasher.record(frames));
    } finally {
      frames.destroy();
    }
  } finally {
    hasher.destroy();
  }
}
