// Why web/video.js makes no vPDQ of a video, shared by its demuxers (web/demux_mp4.js, web/demux_mediabunny.js).

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

// Bytes [start, end) of the File, all of them or CorruptVideo.
export async function read(blob, start, end) {
  const buffer = await blob.slice(start, end).arrayBuffer();
  if (buffer.byteLength !== end - start) throw new CorruptVideo(`bytes ${start}-${end} are past the end of the file`);
  return buffer;
}
