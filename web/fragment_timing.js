// A fragmented MP4's video track timing as FFmpeg's mov.c counts it for avg_frame_rate: every sample of the
// track, in `moov`'s sample table (stts) and in every fragment's `trun`, and the sum of their durations
// (mov_read_stts, mov_read_trun: nb_frames_for_fps, duration_for_fps; localhash.frame_rate
// fragmented_mov_frame_rate). Read from the File box by box (ISO/IEC 14496-12 8.8): only `moov` and each
// `moof` are read, never the media. Mediabunny's packet durations are not these when the rate changes between
// fragments, so they are not used.

import { CorruptVideo, read } from "./video_errors.js";

const MOOF_MAX = 16 * 1024 * 1024; // a moof or moov larger than this is not believed

// The boxes in view[start, end): [{type, start (of the body), end}].
function boxes(view, start = 0, end = view.byteLength) {
  const found = [];
  for (let at = start; at + 8 <= end; ) {
    let size = view.getUint32(at);
    let header = 8;
    if (size === 1 && at + 16 <= end) {
      size = Number(view.getBigUint64(at + 8));
      header = 16;
    } else if (size === 0) size = end - at;
    if (size < header || at + size > end) throw new CorruptVideo(`a box at ${at} of a fragment is damaged`);
    const type = String.fromCharCode(...new Uint8Array(view.buffer, view.byteOffset + at + 4, 4));
    found.push({ type, start: at + header, end: at + size });
    at += size;
  }
  return found;
}

const child = (view, box, type) => boxes(view, box.start, box.end).find((b) => b.type === type);
const children = (view, box, type) => boxes(view, box.start, box.end).filter((b) => b.type === type);

// moov's video track: its ID, timescale (mdhd), the fragments' default sample duration (trex), and its stts
// samples and duration.
function movieTiming(view, moov) {
  const trak = children(view, moov, "trak").find((t) => {
    const hdlr = child(view, child(view, t, "mdia") || t, "hdlr");
    return hdlr && String.fromCharCode(...new Uint8Array(view.buffer, view.byteOffset + hdlr.start + 8, 4)) === "vide";
  });
  if (!trak) throw new CorruptVideo("there is no video track");
  const tkhd = child(view, trak, "tkhd");
  const mdhd = child(view, child(view, trak, "mdia"), "mdhd");
  const timescale = view.getUint32(mdhd.start + (view.getUint8(mdhd.start) === 1 ? 20 : 12));
  const trackId = view.getUint32(tkhd.start + (view.getUint8(tkhd.start) === 1 ? 20 : 12));
  let samples = 0;
  let duration = 0;
  const stbl = child(view, child(view, child(view, child(view, trak, "mdia"), "minf"), "stbl"), "stts");
  if (stbl) {
    const entries = view.getUint32(stbl.start + 4);
    for (let i = 0; i < entries; i++) {
      const count = view.getUint32(stbl.start + 8 + 8 * i);
      samples += count;
      duration += count * view.getUint32(stbl.start + 12 + 8 * i);
    }
  }
  const mvex = child(view, moov, "mvex");
  const trex = mvex && children(view, mvex, "trex").find((t) => view.getUint32(t.start + 4) === trackId);
  return { trackId, timescale, samples, duration, defaultDuration: trex ? view.getUint32(trex.start + 12) : 0 };
}

// One moof's samples of the track and their durations (tfhd's default, else trex's, unless trun has each).
function fragmentTiming(view, moof, track) {
  let samples = 0;
  let duration = 0;
  for (const traf of children(view, moof, "traf")) {
    const tfhd = child(view, traf, "tfhd");
    if (!tfhd || view.getUint32(tfhd.start + 4) !== track.trackId) continue;
    const flags = view.getUint32(tfhd.start) & 0xffffff;
    let at = tfhd.start + 8 + (flags & 0x1 ? 8 : 0) + (flags & 0x2 ? 4 : 0);
    const fallback = flags & 0x8 ? view.getUint32(at) : track.defaultDuration;
    for (const trun of children(view, traf, "trun")) {
      const runFlags = view.getUint32(trun.start) & 0xffffff;
      const count = view.getUint32(trun.start + 4);
      at = trun.start + 8 + (runFlags & 0x1 ? 4 : 0) + (runFlags & 0x4 ? 4 : 0);
      const stride = 4 * [0x100, 0x200, 0x400, 0x800].filter((bit) => runFlags & bit).length;
      if (at + stride * count > trun.end) throw new CorruptVideo("a fragment's sample run is cut off");
      samples += count;
      if (!(runFlags & 0x100)) duration += count * fallback;
      else for (let i = 0; i < count; i++) duration += view.getUint32(at + i * stride);
    }
  }
  return { samples, duration };
}

// {samples, duration, timescale} of the first video track over the whole file. A box too short for
// its fields (a RangeError, or a missing child box) is a damaged file: CorruptVideo.
export async function fragmentedVideoTiming(blob) {
  try {
    return await timingOf(blob);
  } catch (error) {
    if (error instanceof CorruptVideo) throw error;
    throw new CorruptVideo(`its fragments cannot be read (${String(error && error.message ? error.message : error).slice(0, 200)})`);
  }
}

async function timingOf(blob) {
  let track = null;
  let samples = 0;
  let duration = 0;
  for (let at = 0; at + 8 <= blob.size; ) {
    const head = new DataView(await read(blob, at, Math.min(at + 16, blob.size)));
    let size = head.getUint32(0);
    if (size === 1 && head.byteLength === 16) size = Number(head.getBigUint64(8));
    else if (size === 0) size = blob.size - at;
    const type = String.fromCharCode(head.getUint8(4), head.getUint8(5), head.getUint8(6), head.getUint8(7));
    if (size < 8 || at + size > blob.size) throw new CorruptVideo(`the ${type} box at ${at} is cut off or damaged`);
    if (type === "moov" || (type === "moof" && track)) {
      if (size > MOOF_MAX) throw new CorruptVideo(`a ${type} box of ${size} bytes`);
      const view = new DataView(await read(blob, at, at + size));
      const [box] = boxes(view);
      if (type === "moov") {
        track = movieTiming(view, box);
        samples += track.samples;
        duration += track.duration;
      } else {
        const fragment = fragmentTiming(view, box, track);
        samples += fragment.samples;
        duration += fragment.duration;
      }
    }
    at += size;
  }
  if (!track) throw new CorruptVideo("there is no moov box (the file is cut off, or not an MP4)");
  return { samples, duration, timescale: track.timescale };
}
