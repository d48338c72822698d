// An MP4/MOV/3GP video track demuxed with mp4box.js for web/video.js: the `moov` box's sample tables, the
// samples read from the File in slices. Fragmented files (an `mvex` in `moov`, or `moof` boxes) go to
// web/demux_mediabunny.js instead.
//
// What FFmpeg does and this does the same way (vpdq's frames are FFmpeg's): the first video track; its average
// frame rate from the sample table (video_browser.mov_frame_rate); frames outside the track's edit list are
// decoded and dropped, not counted (libavformat/mov.c mov_fix_index).

import { CorruptVideo, read } from "./video_errors.js";

const READ_BYTES = 8 * 1024 * 1024; // samples are read in slices of at most 8 MiB: memory stays flat
const READ_GAP = 1024 * 1024; // another track's bytes between two samples are read through up to this much

// The file's samples are in fragments: mp4box.js's sample table does not hold them.
export class Fragmented extends Error {}

// The file's top-level boxes up to and with `moov` (ISO/IEC 14496-12 4.2): their bytes without `mdat`'s, read
// from the File by their headers, so a file whose moov comes last is not read through.
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
    if (type === "moof") throw new Fragmented("a fragment (moof) before the moov box");
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
  if (file.moov.mvex) throw new Fragmented("a movie extends box (mvex): the samples are in fragments");
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

// The video track of an MP4/MOV as web/video.js decodes it (its `VideoSource`): codec, size, FFmpeg's average
// frame rate, the shown ranges and the chunks in decode order. Throws Fragmented, CorruptVideo.
export async function mp4Source(blob, mp4box, python) {
  const track = videoTrack(mp4box, await movieBoxes(blob));
  const [num, den] = python.mov_frame_rate(track.stts.sample_counts, track.stts.sample_deltas, track.timescale).toJs();
  return {
    codec: track.codec,
    description: track.description,
    width: track.width,
    height: track.height,
    rate: [num, den],
    timescale: track.timescale,
    seconds: Math.max(1, Math.ceil(track.duration / track.timescale)),
    shown: track.shown,
    async *chunks() {
      for (const run of readRuns(track.samples)) {
        const start = run[0].offset;
        const last = run[run.length - 1];
        const bytes = await read(blob, start, last.offset + last.size);
        for (const sample of run) {
          yield {
            type: sample.is_sync ? "key" : "delta",
            time: sample.cts,
            data: new Uint8Array(bytes, sample.offset - start, sample.size),
          };
        }
      }
    },
    close() {},
  };
}
