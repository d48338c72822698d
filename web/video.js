// A video's frames for vPDQ in the worker (video_job.js hashVideo): the container demuxed (web/demux_mp4.js: an
// MP4/MOV with mp4box.js; web/demux_mediabunny.js: a WebM/Matroska or fragmented MP4 with Mediabunny, each
// imported only when first needed), its chunks read from the File in slices and decoded with WebCodecs'
// VideoDecoder, each decoded frame counted as FFmpeg counts it and, when vpdq keeps it, copied into the buffer
// Python hands out (py/localhash/video_browser.py VideoFrames), which checks and hashes it.
//
// The demuxer gives FFmpeg's average frame rate and the presentation ranges FFmpeg shows (an MP4's edit list);
// every other frame the decoder outputs counts. The raw planes are copied where the engine gives them
// (Chromium: I420), so swscale's BT.601 conversion is done in Python exactly; an engine that gives RGB only
// (Firefox: BGRX) has its pixels hashed as they are, and the record says "rgba".

import { Fragmented, mp4Source } from "./demux_mp4.js";
import { mediabunnySource } from "./demux_mediabunny.js";
import { Cancelled, CorruptVideo, NoVpdq } from "./video_errors.js";

export { Cancelled, CorruptVideo, NoVpdq };

const DECODE_QUEUE = 8; // chunks waiting in the decoder at most
// Kept frames decoded ahead of their hashing at most: about 3 s of video, so that decoding goes on while one is
// hashed; every other frame is closed as soon as it is counted (decoders stall when their frames are not closed).
const KEPT_FRAMES = 3;

// How VideoFrame.copyTo packs a frame of this format into Python's buffer (layout names of VideoFrames), or null
// for a format whose samples are not 8-bit 4:2:0 or RGB (10-bit, 4:4:4), which a canvas converts.
function packing(format, width, height) {
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  const y = { offset: 0, stride: width };
  switch (format) {
    case "I420":
      return { layout: "I420", planes: [y, { offset: width * height, stride: cw }, { offset: width * height + cw * ch, stride: cw }] };
    case "I420A": // alpha copied after the three planes, then left out
      return { layout: "I420", planes: [y, { offset: width * height, stride: cw }, { offset: width * height + cw * ch, stride: cw }, { offset: width * height + 2 * cw * ch, stride: width }] };
    case "NV12":
      return { layout: "NV12", planes: [y, { offset: width * height, stride: 2 * cw }] };
    case "RGBA":
    case "RGBX":
    case "BGRA":
    case "BGRX":
      return { layout: format, planes: [{ offset: 0, stride: width * 4 }] };
    default:
      return null;
  }
}

// One kept frame into Python's buffer: its raw planes where copyTo gives them at the stream's size, else the
// engine's RGBA of it drawn at the stream's size (as vpdq's swscale scales a frame of another size).
async function copyFrame(frame, frames, width, height, scratch) {
  const rect = frame.visibleRect;
  let pack = rect && rect.width === width && rect.height === height ? packing(frame.format, width, height) : null;
  let bytes;
  let colour = null; // for the planes' check: the matrix and range the engine draws the frame with
  if (pack) {
    const size = pack.planes.length === 4 ? 2 * width * height + 2 * ((width + 1) >> 1) * ((height + 1) >> 1) : null;
    const target = scratch(size || frame.allocationSize({ layout: pack.planes }));
    await frame.copyTo(target, { layout: pack.planes });
    bytes = target;
    const copiedAsRgb = pack.layout !== "I420" && pack.layout !== "NV12";
    colour = await engineRgbForCheck(frame, frames, width, height, copiedAsRgb);
  } else {
    bytes = drawn(frame, width, height);
    pack = { layout: "RGBA" };
  }
  fill(frames.buffer(pack.layout), bytes);
  return { layout: pack.layout, colour };
}

// The frame converted to RGBA by VideoFrame.copyTo into a buffer reused from frame to frame, or null where the
// engine does not convert: it throws, or (WebKit) ignores the format and copies its planes, which the layout it
// answers shows. Once refused, the canvas is used for the rest of the session.
let copyToConverts = true;
let converted = null;
async function convertedByCopyTo(frame, width, height) {
  if (!copyToConverts) return null;
  const stride = width * 4;
  if (!converted || converted.length !== stride * height) converted = new Uint8Array(stride * height);
  try {
    const layout = await frame.copyTo(converted, { format: "RGBA", layout: [{ offset: 0, stride }] });
    if (layout.length === 1 && layout[0].offset === 0 && layout[0].stride === stride) return converted;
  } catch {
    // an engine without copyTo's format
  }
  copyToConverts = false;
  converted = null;
  return null;
}

// The buffer and the canvas the check's RGB goes through (a 4K frame's is 33 MB each) are let go when a video
// ends, not kept for the next.
function releaseDrawing() {
  converted = null;
  drawing = null;
}

// The engine's own RGBA drawing of the frame at full size.
// One canvas for every frame of a video (a 1080p frame's is 8 MB), made again only for another size; cleared
// first, so a frame with transparent pixels is never drawn over the one before.
let drawing = null;
function drawn(frame, width, height) {
  if (!drawing || drawing.canvas.width !== width || drawing.canvas.height !== height) {
    drawing = new OffscreenCanvas(width, height).getContext("2d", { willReadFrequently: true });
  }
  drawing.clearRect(0, 0, width, height);
  drawing.drawImage(frame, 0, 0, width, height);
  return drawing.getImageData(0, 0, width, height).data;
}

// Write into a buffer Python handed out (`write(its bytes)`), then let it go.
function intoBuffer(array, write) {
  const view = array.getBuffer("u8");
  try {
    write(view.data);
  } finally {
    view.release();
    array.destroy();
  }
}

// Copy bytes into a buffer Python handed out (as much as it holds).
function fill(array, bytes) {
  intoBuffer(array, (data) => data.set(bytes.subarray(0, data.length)));
}

// Copy every `step`-th row of `rowBytes` of bytes into a buffer Python handed out (as many rows as it holds).
function fillRows(array, bytes, rowBytes, step) {
  intoBuffer(array, (data) => {
    for (let at = 0, row = 0; at < data.length; at += rowBytes, row += step) {
      data.set(bytes.subarray(row * rowBytes, (row + 1) * rowBytes), at);
    }
  });
}

// The engine's own RGB conversion of the frame at full size, the rows the check reads of it into
// VideoFrames.reference() (every reference_step-th): what the copy is checked against (video_check.plane_check,
// rgb_check). For planes, VideoFrame.copyTo converting to RGBA where the engine does (Chromium: the same pixels as
// its canvas drawing, at a fifth of the cost, measured), else, and for a frame copied as RGB (whose copy is no
// conversion: a canvas is the independent view), its drawing on a canvas. Returns [matrix, fullRange] as the
// engine read them from the frame, or null when it can convert it neither way (the copy is then hashed
// unchecked, as it is).
async function engineRgbForCheck(frame, frames, width, height, copiedAsRgb) {
  let rgba = copiedAsRgb ? null : await convertedByCopyTo(frame, width, height);
  if (!rgba) {
    try {
      rgba = drawn(frame, width, height);
    } catch {
      return null;
    }
  }
  fillRows(frames.reference(), rgba, width * 4, frames.reference_step);
  const space = frame.colorSpace || {};
  return [space.matrix || "smpte170m", space.fullRange === true];
}

// The video's demuxed track (demux_mp4.js mp4Source's shape). `demuxers`: {mp4box, mediabunny()}, the latter
// a function that imports Mediabunny (a failed import is NoVpdq demuxer_not_loaded).
async function videoSource(blob, container, demuxers, python) {
  if (container === "WEBM") return mediabunnySource(blob, await demuxers.mediabunny(), python, false);
  if (container !== "MP4" && container !== "MOV" && container !== "3GP") {
    throw new NoVpdq("unsupported_container", `${container} videos are not demuxed in the browser yet`);
  }
  try {
    return await mp4Source(blob, demuxers.mp4box, python);
  } catch (error) {
    if (!(error instanceof Fragmented)) throw error;
  }
  return mediabunnySource(blob, await demuxers.mediabunny(), python, true);
}

// The video's vPDQ as a VideoFrames proxy (the caller destroys it), fed every decoded frame. `python`: the
// localhash.browser module; `hooks`: {progress(seconds, total), cancelled()}. Throws NoVpdq, CorruptVideo,
// Cancelled.
export async function decodeVideo(blob, container, demuxers, python, hooks) {
  if (typeof VideoDecoder === "undefined") throw new NoVpdq("no_webcodecs", "this browser has no WebCodecs VideoDecoder");
  const track = await videoSource(blob, container, demuxers, python);
  try {
    return await decodeTrack(track, python, hooks);
  } finally {
    track.close();
  }
}

// Decoding and hashing share the worker's one thread. The decoder gets its chunks and hands back its frames through
// this thread, so a kept frame's Python run in one go (a quarter to half a second at 1080p) leaves it idle (measured
// in Chromium: decoding and the kept frames' work took turns, bench/video_profile.py). Instead every decoded frame is counted in the decoder's output callback at once
// (those vpdq does not keep closed there), chunks are fed by their own loop, and a kept frame is checked and
// hashed in pieces of some milliseconds (VideoFrames.job), the thread turning to the decoder between two.
async function decodeTrack(track, python, hooks) {
  const config = await supportedConfig(track);
  if (!config) throw new NoVpdq("unsupported_codec", `this browser cannot decode ${track.codec} video`);
  const [num, den] = track.rate;
  const totalSeconds = track.seconds;

  let frames = null; // made at the first decoded frame, whose size is the stream's (FFmpeg's decoded size)
  let stopped = null; // the error that ends decoding
  let fed = false; // every chunk is in the decoder and the decoder is flushed
  let copyBuffer = null;
  const scratch = (size) => (copyBuffer && copyBuffer.length >= size ? copyBuffer : (copyBuffer = new Uint8Array(size))).subarray(0, size);
  const kept = []; // decoded frames vpdq keeps, in output order, not yet hashed
  const change = signal();
  const stop = (error) => {
    stopped = stopped || error;
    change.notify();
  };
  const timeOf = new Map(); // chunk timestamp (µs) -> presentation time (track timescale)
  let seconds = -1; // the last whole second of video reported
  const origin = track.shown ? track.shown[0][0] : 0; // where the edit list starts the video

  // Counts a decoded frame as FFmpeg counts it: whether vpdq keeps it.
  function keeps(frame) {
    const time = timeOf.get(frame.timestamp) ?? (frame.timestamp * track.timescale) / 1e6;
    timeOf.delete(frame.timestamp);
    const second = Math.min(Math.floor((time - origin) / track.timescale), totalSeconds);
    if (second > seconds) hooks.progress((seconds = second), totalSeconds);
    if (!frames) {
      const width = frame.visibleRect ? frame.visibleRect.width : frame.codedWidth;
      const height = frame.visibleRect ? frame.visibleRect.height : frame.codedHeight;
      // vpdq's full range is FFmpeg's yuvj420p, which only its H.264 decoder outputs (the SPS's full-range flag)
      const fullRange = /^avc/.test(track.codec) && frame.colorSpace?.fullRange === true;
      frames = python.video_frames(num, den, width, height, fullRange);
      if (frames.failure || frames.vpdq_error) throw new Stop();
    }
    if (track.shown && !track.shown.some(([start, end]) => time >= start && time < end)) return false; // FFmpeg drops it
    return frames.take();
  }

  const decoder = new VideoDecoder({
    output: (frame) => {
      let keep = false;
      try {
        if (hooks.cancelled()) throw new Cancelled();
        keep = !stopped && keeps(frame);
      } catch (error) {
        stop(error);
      }
      if (!keep) return frame.close();
      kept.push(frame);
      change.notify();
    },
    error: (error) => stop(new NoVpdq("not_decoded", `the browser's decoder failed (${String(error && error.message ? error.message : error).slice(0, 200)})`)),
  });
  decoder.addEventListener("dequeue", change.notify);

  async function feed() {
    decoder.configure(config);
    for await (const chunk of track.chunks()) {
      if (hooks.cancelled()) throw new Cancelled();
      const timestamp = Math.round((chunk.time * 1e6) / track.timescale);
      timeOf.set(timestamp, chunk.time);
      decoder.decode(new EncodedVideoChunk({ type: chunk.type, timestamp, data: chunk.data }));
      while (!stopped && (decoder.decodeQueueSize > DECODE_QUEUE || kept.length > KEPT_FRAMES)) await change.wait();
      if (stopped) return;
    }
    await decoder.flush().catch(stop);
  }

  // Copies, checks and hashes the kept frames in order, each closed once done.
  async function hashKept() {
    for (;;) {
      while (!stopped && !kept.length && !fed) await change.wait();
      if (stopped || !kept.length) return;
      try {
        await hash(kept[0]);
      } finally {
        kept.shift().close();
        change.notify();
      }
    }
  }

  async function hash(frame) {
    const { layout, colour } = await copyFrame(frame, frames, frames.width, frames.height, scratch);
    const job = colour ? frames.job(layout, ...colour) : frames.job(layout);
    try {
      while (job.step()) {
        await turn();
        if (hooks.cancelled()) throw new Cancelled();
        if (stopped) return;
      }
      if (!job.ok) throw new Stop();
    } finally {
      job.destroy();
    }
  }

  const hashing = hashKept().catch(stop);
  try {
    await feed();
  } catch (error) {
    stop(error);
  } finally {
    fed = true;
    change.notify();
    await hashing;
    if (decoder.state !== "closed") decoder.close();
    for (const frame of kept.splice(0)) frame.close();
    releaseDrawing();
  }
  if (stopped instanceof Stop) return frames; // its failure or vpdq_error says why
  if (stopped) {
    if (frames) frames.destroy();
    if (stopped instanceof NoVpdq || stopped instanceof CorruptVideo || stopped instanceof Cancelled) throw stopped;
    // anything else (the engine refusing a copy, a chunk it cannot take): no vPDQ here, the digests stay
    const reason = String(stopped && stopped.message ? stopped.message : stopped).slice(0, 200);
    throw new NoVpdq("not_decoded", `the browser's frames could not be read (${reason})`);
  }
  if (!frames) throw new NoVpdq("not_decoded", "the browser's decoder gave no frame");
  if (seconds < totalSeconds) hooks.progress(totalSeconds, totalSeconds);
  return frames;
}

// Something changed (a frame out of the decoder, room in its queue, a frame hashed, the end): every waiter wakes
// and looks again. A waiter also wakes after 50 ms, should an engine not say so.
function signal() {
  const waiters = [];
  return {
    wait: () => new Promise((resolve) => (waiters.push(resolve), setTimeout(resolve, 50))),
    notify: () => {
      for (const resolve of waiters.splice(0)) resolve();
    },
  };
}

// One turn of the event loop, for the decoder's callbacks and the next chunks: a MessageChannel message is a task
// queued behind those already waiting (a nested setTimeout would be clamped to 4 ms).
const turns = new MessageChannel();
const turnsWaiting = [];
turns.port1.onmessage = () => turnsWaiting.shift()();
function turn() {
  return new Promise((resolve) => {
    turnsWaiting.push(resolve);
    turns.port2.postMessage(null);
  });
}

// Decoding stops: VideoFrames itself says why (a frame under 64 px, all-zero pixels).
class Stop extends Error {}

// The decoder configuration this browser supports for the track, or null. Software decoding first: it gives
// the decoder's own I420 planes (a hardware decoder may give NV12, or a GPU texture only).
async function supportedConfig(track) {
  const base = { codec: track.codec, codedWidth: track.width, codedHeight: track.height };
  if (track.description) base.description = track.description;
  for (const preference of ["prefer-software", "no-preference"]) {
    const config = { ...base, hardwareAcceleration: preference };
    try {
      const { supported } = await VideoDecoder.isConfigSupported(config);
      if (supported) return config;
    } catch {
      // a TypeError for a configuration the engine finds invalid: as unsupported
    }
  }
  return null;
}
