// The first video track's DefaultDuration and FrameRate in a WebM/Matroska file (Matroska spec, RFC 9559), read
// from the File by element headers: what FFmpeg's matroskadec.c derives avg_frame_rate from
// (localhash.frame_rate.matroska_frame_rate). Mediabunny does not hand them out.

import { CorruptVideo, read } from "./video_errors.js";

const SEGMENT = 0x18538067;
const TRACKS = 0x1654ae6b;
const CLUSTER = 0x1f43b675;
const TRACK_ENTRY = 0xae;
const TRACK_TYPE = 0x83; // 1: video
const DEFAULT_DURATION = 0x23e383; // ns
const VIDEO = 0xe0;
const FRAME_RATE = 0x2383e3; // float, deprecated
const TRACKS_MAX = 4 * 1024 * 1024; // a Tracks element larger than this is not believed

// An EBML variable-size integer at `at`: [value, length]; `marker` keeps the length bit (element IDs do).
// Unknown sizes (all value bits set) give -1.
function vint(view, at, marker) {
  if (at >= view.byteLength) return [null, 0];
  const first = view.getUint8(at);
  let length = 1;
  while (length <= 8 && !(first & (0x100 >> length))) length++;
  if (length > 8 || at + length > view.byteLength) return [null, 0];
  let value = marker ? first : first & (0xff >> length);
  let ones = value === (0xff >> length);
  for (let i = 1; i < length; i++) {
    const byte = view.getUint8(at + i);
    value = value * 256 + byte;
    ones = ones && byte === 0xff;
  }
  return [!marker && ones ? -1 : value, length];
}

// The elements of view[start, end): [{id, start (of the data), size}].
function* children(view, start, end) {
  let at = start;
  while (at < end) {
    const [id, idLength] = vint(view, at, true);
    const [size, sizeLength] = vint(view, at + idLength, false);
    if (id === null || size === null || size < 0 || at + idLength + sizeLength + size > end) return;
    yield { id, start: at + idLength + sizeLength, size };
    at += idLength + sizeLength + size;
  }
}

function unsigned(view, { start, size }) {
  let value = 0;
  for (let i = 0; i < size; i++) value = value * 256 + view.getUint8(start + i);
  return value;
}

function float(view, { start, size }) {
  return size === 4 ? view.getFloat32(start) : size === 8 ? view.getFloat64(start) : 0;
}

// {defaultDuration (ns, 0 when absent), frameRate (0 when absent), cutOff} of the first video TrackEntry: the
// Segment's children are walked by their headers up to Tracks (the first Cluster ends the search). `cutOff`: the
// Segment's size runs past the end of the file. CorruptVideo when no video TrackEntry is found that way: the file
// is then not handed to Mediabunny, whose parser 1.61.0 loops for ever on some damaged headers (tested).
export async function matroskaVideoTiming(blob) {
  let at = 0;
  let segmentEnd = blob.size;
  let cutOff = false;
  while (at < segmentEnd) {
    const head = new DataView(await read(blob, at, Math.min(at + 12, blob.size)));
    const [id, idLength] = vint(head, 0, true);
    const [size, sizeLength] = vint(head, idLength, false);
    if (id === null || size === null) break;
    const start = at + idLength + sizeLength;
    if (id === SEGMENT) {
      if (size >= 0) segmentEnd = Math.min(blob.size, start + size);
      cutOff = size >= 0 && start + size > blob.size;
      at = start; // its children
      continue;
    }
    if (id === CLUSTER || size < 0) break;
    if (id === TRACKS) {
      if (size > TRACKS_MAX || start + size > blob.size) throw new CorruptVideo("the Tracks element is cut off or damaged");
      const view = new DataView(await read(blob, start, start + size));
      for (const entry of children(view, 0, size)) {
        if (entry.id !== TRACK_ENTRY) continue;
        const timing = { type: 0, defaultDuration: 0, frameRate: 0 };
        for (const field of children(view, entry.start, entry.start + entry.size)) {
          if (field.id === TRACK_TYPE) timing.type = unsigned(view, field);
          if (field.id === DEFAULT_DURATION) timing.defaultDuration = unsigned(view, field);
          if (field.id === VIDEO) {
            for (const sub of children(view, field.start, field.start + field.size)) {
              if (sub.id === FRAME_RATE) timing.frameRate = float(view, sub);
            }
          }
        }
        if (timing.type === 1) return { defaultDuration: timing.defaultDuration, frameRate: timing.frameRate, cutOff };
      }
      break;
    }
    at = start + size;
  }
  throw new CorruptVideo("no video track was found before the first cluster (the file is damaged, or not a WebM)");
}
