// A video's frames for vPDQ in the worker (worker.js hashVideo): the MP4/MOV container demuxed with mp4box.js
// (npm mp4box, imported only for the first video), the samples read from the File in slices and decoded with
// WebCodecs' VideoDecoder, each decoded frame counted as FFmpeg counts it and, when vpdq keeps it, copied into
// the buffer Python hands out (py/localhash/video_browser.py VideoFrames), which checks and hashes it.
//
// What FFmpeg does and this does the same way (vpdq's frames are FFmpeg's): the first video track; its average
// frame rate from the sample table (VideoFrames' mov_frame_rate); frames outside the track's edit list are
// decoded and dropped, not counted (libavformat/mov.c mov_fix_index); every other frame the decoder outputs
// counts. The raw planes are copied where the engine gives them (Chromium: I420), so swscale's BT.601
// conversion is done in Python exactly; an engine that gives RGB only (Firefox: BGRX) has its pixels hashed as
// they are, and the record says "rgba".

const READ_BYTES = 8 * 1024 * 1024; // samples are read in slices of at most 8 MiB: memory stays flat
const READ_GAP = 1024 * 1024; // another track's bytes between two samples are read through up to this much
const DECODE_QUEUE = 8; // chunks waiting in the decoder at most
const HELD_FRAMES = 4; // decoded frames waiting here at most (decoders stall when their frames are not closed)

// Why the browser made no vPDQ of the video (its record keeps MD5 and SHA-256): a code of
// video_browser.VPDQ_ERRORS and a message.
export class NoVpdq extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// The container cannot be read: the whole video is corrupt_video, as natively.
export class CorruptVideo extends Error {}

// The person removed the file while it was hashed.
export class Cancelled extends Error {}

async function read(blob, start, end) {
  const buffer = await blob.slice(start, end).arrayBuffer();
  if (buffer.byteLength !== end - start) throw new CorruptVideo(`bytes ${start}-${end} are past the end of the file`);
  return buffer;
}

// The file's top-level boxes up to and with `moov` (ISO/IEC 14496-12 4.2): their bytes without `mdat`'s, read
// from the File by their headers, so a file whose moov comes last is not read through. Fragmented files
// (`moof`) hold their sample tables elsewhere: not yet read here.
async function movieBoxes(blob) {
  const kept = [];
  let at = 0;
  let moov = false;
  while (at + 8 <= blob.size && !moov) {
    const head = new DataView(await read(blob, at, Math.min(at + 16, blob.size)));
    let size = head.getUint32(0);
    const type = String.fromCharCode(head.getUint8(4), head.getUint8(5), head.getUint8(6), head.getUint8(7));
    let header = 8;
    if (size === 1) {
      if (head.byteLength < 16) throw new CorruptVideo(`the ${type} box is cut off`);
      size = Number(head.getBigUint64(8));
      header = 16;
    } else if (size === 0) size = blob.size - at;
    if (size < header || at + size > blob.size) throw new CorruptVideo(`the ${type} box at ${at} is cut off or damaged`);
    if (type === "moof") throw new NoVpdq("unsupported_container", "a fragmented MP4 (moof boxes)");
    if (type === "ftyp" || type === "moov") kept.push(new Uint8Array(await read(blob, at, at + size)));
    moov = type === "moov";
    at += size;
  }
  if (!moov) throw new CorruptVideo("there is no moov box (the file is cut off, or not an MP4)");
  const whole = new Uint8Array(kept.reduce((n, box) => n + box.length, 0));
  let offset = 0;
  for (const box of kept) whole.set(box, (offset += box.length) - box.length);
  return whole.buffer;
}

// The first video track as mp4box parses it, with what the decoder and vpdq need from it.
function videoTrack(mp4box, boxes) {
  mp4box.Log.setLogLevel(mp4box.Log.error); // its warnings (boxes it does not know) are not the person's concern
  const file = mp4box.createFile();
  let failure = null;
  file.onError = (module, message) => (failure = failure || `${module}: ${message}`);
  const buffer = mp4box.MP4BoxBuffer.fromArrayBuffer(boxes, 0);
  file.appendBuffer(buffer);
  file.flush();
  if (!file.moov) throw new CorruptVideo(failure || "its moov box cannot be read");
  const trak = file.moov.traks.find((t) => t.mdia?.hdlr?.handler === "vide");
  if (!trak) throw new CorruptVideo("there is no video track");
  const stbl = trak.mdia.minf.stbl;
  const entry = stbl.stsd.entries[0];
  if (!entry || !trak.samples || !trak.samples.length) throw new CorruptVideo("the video track has no samples");
  if (!stbl.stts) throw new CorruptVideo("the video track has no timing (stts)");
  // The codec configuration is the configuration box's own bytes, after its header (WebCodecs' codec registry).
  const config = entry.avcC || entry.hvcC || entry.av1C;
  const description = config && new Uint8Array(boxes, config.start + config.hdr_size, config.size - config.hdr_size);
  return {
    codec: entry.getCodec(),
    fourcc: entry.type,
    width: entry.width,
    height: entry.height,
    description: entry.vpcC ? undefined : description, // VP9 takes none
    timescale: trak.mdia.mdhd.timescale,
    duration: trak.mdia.mdhd.duration,
    stts: stbl.stts,
    samples: trak.samples,
    shown: editRanges(trak, file.moov.mvhd.timescale),
  };
}

// The presentation times (track timescale, [start, end)) the edit list keeps. FFmpeg's mov_fix_index decodes
// the frames before an edit's start from the keyframe before it and drops them, as those after its end; an
// empty edit (media_time -1) only delays the track. No edit list: every frame is shown (null).
function editRanges(trak, movieTimescale) {
  const entries = trak.edts?.elst?.entries || [];
  const ranges = [];
  for (const edit of entries) {
    const start = Number(edit.media_time);
    if (start < 0) continue;
    const length = Math.round((Number(edit.segment_duration) * trak.mdia.mdhd.timescale) / movieTimescale); // av_rescale
    ranges.push([start, length > 0 ? start + length : Infinity]);
  }
  return ranges.length ? ranges : null;
}

// Runs of samples read with one File.slice each: consecutive in the file, at most READ_BYTES.
function* readRuns(samples) {
  let run = [];
  for (const sample of samples) {
    const first = run[0];
    const last = run[run.length - 1];
    const joins =
      first &&
      sample.offset >= last.offset + last.size &&
      sample.offset - (last.offset + last.size) <= READ_GAP &&
      sample.offset + sample.size - first.offset <= READ_BYTES;
    if (run.length && !joins) {
      yield run;
      run = [];
    }
    run.push(sample);
  }
  if (run.length) yield run;
}

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
    colour = drawForCheck(frame, frames, width, height);
  } else {
    bytes = drawn(frame, width, height);
    pack = { layout: "RGBA" };
  }
  fill(frames.buffer(pack.layout), bytes);
  return { layout: pack.layout, colour };
}

// The engine's own RGBA drawing of the frame at full size.
function drawn(frame, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(frame, 0, 0, width, height);
  return context.getImageData(0, 0, width, height).data;
}

// Copy bytes into a buffer Python handed out (as much as it holds), then let it go.
function fill(array, bytes) {
  const view = array.getBuffer("u8");
  try {
    view.data.set(bytes.subarray(0, view.data.length));
  } finally {
    view.release();
    array.destroy();
  }
}

// The engine's own RGB drawing of the frame at full size, into VideoFrames.reference(): what the copied planes
// are checked against (video_browser.plane_check). Returns [matrix, fullRange] as the engine read them from the
// frame, or null when it cannot draw it (the planes are then hashed unchecked, as they are).
function drawForCheck(frame, frames, width, height) {
  let rgba;
  try {
    rgba = drawn(frame, width, height);
  } catch {
    return null;
  }
  fill(frames.reference(), rgba);
  const space = frame.colorSpace || {};
  return [space.matrix || "smpte170m", space.fullRange === true];
}

// The video's vPDQ as a VideoFrames proxy (the caller destroys it), fed every decoded frame. `python`: the
// localhash.browser module; `hooks`: {progress(seconds, total), cancelled()}. Throws NoVpdq, CorruptVideo,
// Cancelled.
export async function decodeVideo(blob, container, mp4box, python, hooks) {
  if (typeof VideoDecoder === "undefined") throw new NoVpdq("no_webcodecs", "this browser has no WebCodecs VideoDecoder");
  if (container !== "MP4" && container !== "MOV" && container !== "3GP") {
    throw new NoVpdq("unsupported_container", `${container} videos are not demuxed in the browser yet`);
  }
  const track = videoTrack(mp4box, await movieBoxes(blob));
  const config = await supportedConfig(track);
  if (!config) throw new NoVpdq("unsupported_codec", `this browser cannot decode ${track.codec} video`);
  const [num, den] = python.mov_frame_rate(track.stts.sample_counts, track.stts.sample_deltas, track.timescale).toJs();
  const totalSeconds = Math.max(1, Math.ceil(track.duration / track.timescale));

  let frames = null; // made at the first decoded frame, whose size is the stream's (FFmpeg's decoded size)
  let stopped = null; // the error that ends decoding
  let copyBuffer = null;
  const scratch = (size) => (copyBuffer && copyBuffer.length >= size ? copyBuffer : (copyBuffer = new Uint8Array(size))).subarray(0, size);
  const held = [];
  let wake = null;
  const wakeUp = () => wake && wake();
  const decoder = new VideoDecoder({
    output: (frame) => {
      held.push(frame);
      wakeUp();
    },
    error: (error) => {
      stopped = stopped || new NoVpdq("not_decoded", `the browser's decoder failed (${String(error && error.message ? error.message : error).slice(0, 200)})`);
      wakeUp();
    },
  });
  decoder.addEventListener("dequeue", wakeUp);
  const ctsOf = new Map(); // chunk timestamp (µs) -> presentation time (track timescale)
  let seconds = -1; // the last whole second of video reported
  const origin = track.shown ? track.shown[0][0] : 0; // where the edit list starts the video

  async function handle(frame) {
    const cts = ctsOf.get(frame.timestamp) ?? (frame.timestamp * track.timescale) / 1e6;
    ctsOf.delete(frame.timestamp);
    const second = Math.min(Math.floor((cts - origin) / track.timescale), totalSeconds);
    if (second > seconds) hooks.progress((seconds = second), totalSeconds);
    if (!frames) {
      const width = frame.visibleRect ? frame.visibleRect.width : frame.codedWidth;
      const height = frame.visibleRect ? frame.visibleRect.height : frame.codedHeight;
      // vpdq's full range is FFmpeg's yuvj420p, which only its H.264 decoder outputs (the SPS's full-range flag)
      const fullRange = /^avc/.test(track.codec) && frame.colorSpace?.fullRange === true;
      frames = python.video_frames(num, den, width, height, fullRange);
      if (frames.failure || frames.vpdq_error) throw new Stop();
    }
    if (track.shown && !track.shown.some(([start, end]) => cts >= start && cts < end)) return; // FFmpeg drops it
    if (!frames.wants_next()) {
      frames.skip();
      return;
    }
    const { layout, colour } = await copyFrame(frame, frames, frames.width, frames.height, scratch);
    if (!(colour ? frames.push(layout, ...colour) : frames.push(layout))) throw new Stop();
  }

  // Hands every held frame to `handle`, in output order, closing each.
  async function drain() {
    while (held.length) {
      const frame = held.shift();
      try {
        if (!stopped) await handle(frame);
      } catch (error) {
        stopped = stopped || error;
      } finally {
        frame.close();
      }
    }
  }

  async function room() {
    while (!stopped && (decoder.decodeQueueSize > DECODE_QUEUE || held.length > HELD_FRAMES)) {
      if (held.length) await drain();
      else await new Promise((resolve) => ((wake = resolve), setTimeout(resolve, 50)));
      wake = null;
    }
  }

  try {
    decoder.configure(config);
    for (const run of readRuns(track.samples)) {
      const start = run[0].offset;
      const last = run[run.length - 1];
      const bytes = await read(blob, start, last.offset + last.size);
      for (const sample of run) {
        if (hooks.cancelled()) throw new Cancelled();
        const timestamp = Math.round((sample.cts * 1e6) / track.timescale);
        ctsOf.set(timestamp, sample.cts);
        const data = new Uint8Array(bytes, sample.offset - start, sample.size);
        decoder.decode(new EncodedVideoChunk({ type: sample.is_sync ? "key" : "delta", timestamp, data }));
        await room();
        await drain();
        if (stopped) break;
      }
      if (stopped) break;
    }
    if (!stopped) await decoder.flush().catch((error) => (stopped = stopped || error));
    await drain();
  } catch (error) {
    stopped = stopped || error;
  } finally {
    if (decoder.state !== "closed") decoder.close();
    for (const frame of held.splice(0)) frame.close();
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
