// A WebM/Matroska or fragmented MP4 video track demuxed with Mediabunny (npm `mediabunny`, imported only for
// the first such video) for web/video.js: mp4box.js (web/demux_mp4.js) reads an MP4's sample table from its
// `moov`, which neither has. Mediabunny reads the File through its BlobSource, in slices with a bounded cache.
//
// What FFmpeg does and this does the same way (vpdq's frames are FFmpeg's): the first video track; every
// block's frame counted (Matroska has no edit list; laced blocks are split into their frames); the average
// frame rate as its demuxers set it: Matroska's from the track's DefaultDuration (matroskadec.c), a fragmented
// MP4's from every fragment's sample durations (mov.c mov_read_trun; web/fragment_timing.js reads them). A WebM
// without DefaultDuration (nor FrameRate) has its rate guessed by FFmpeg from the packets it probes, which is not
// reproduced here, and one cut off mid-cluster has that cluster's frames decoded by FFmpeg, left out by
// Mediabunny: no vPDQ for either.

import { fragmentedVideoTiming } from "./fragment_timing.js";
import { matroskaVideoTiming } from "./matroska_timing.js";
import { CorruptVideo, NoVpdq } from "./video_errors.js";

const CACHE_BYTES = 8 * 1024 * 1024; // Mediabunny's cache of the File's bytes at most: memory stays flat

function corrupt(error) {
  return new CorruptVideo(`the file cannot be read (${String(error && error.message ? error.message : error).slice(0, 200)})`);
}

// The video track as web/video.js decodes it (the shape of demux_mp4.js mp4Source), timed in microseconds.
// `fragmented`: an MP4 whose samples are in fragments, else a WebM/Matroska. Throws NoVpdq, CorruptVideo.
export async function mediabunnySource(blob, mediabunny, python, fragmented) {
  const { Input, BlobSource, EncodedPacketSink, WEBM, MATROSKA, MP4, QTFF } = mediabunny;
  const timing = fragmented ? null : await matroskaVideoTiming(blob); // first: it also vets the headers
  const input = new Input({
    source: new BlobSource(blob, { maxCacheSize: CACHE_BYTES }),
    formats: fragmented ? [MP4, QTFF] : [WEBM, MATROSKA],
  });
  let closed = false;
  const close = () => closed || ((closed = true), input.dispose());
  try {
    let track;
    let config;
    try {
      track = (await input.getVideoTracks())[0];
      if (!track) throw new CorruptVideo("there is no video track");
      config = await track.getDecoderConfig();
    } catch (error) {
      throw error instanceof CorruptVideo ? error : corrupt(error);
    }
    if (!config) throw new NoVpdq("unsupported_codec", `this browser cannot decode ${track.codec || "this"} video`);
    const sink = new EncodedPacketSink(track);
    let rate;
    if (fragmented) {
      const { samples, duration, timescale } = await fragmentedVideoTiming(blob);
      rate = python.fragmented_mov_frame_rate(samples, duration, timescale).toJs();
    } else {
      if (timing.cutOff) {
        // FFmpeg decodes the frames of a cluster cut off at the end of the file; Mediabunny leaves the cluster out
        throw new NoVpdq("unsupported_container", "the WebM/Matroska is cut off (its Segment runs past the end of the file)");
      }
      rate = python.matroska_frame_rate(timing.defaultDuration, timing.frameRate).toJs();
      if (!rate[0]) {
        throw new NoVpdq("unsupported_container", "a WebM/Matroska whose video track has no DefaultDuration: FFmpeg guesses its frame rate from the first packets, which is not reproduced here");
      }
    }
    let seconds = 1;
    try {
      seconds = Math.max(1, Math.ceil((await input.getDurationFromMetadata()) ?? (await input.computeDuration())));
    } catch {
      // progress then counts against one second; the frames are what they are
    }
    return {
      codec: config.codec,
      description: config.description,
      width: config.codedWidth || track.codedWidth,
      height: config.codedHeight || track.codedHeight,
      rate,
      timescale: 1e6,
      seconds,
      shown: null,
      async *chunks() {
        try {
          for await (const packet of sink.packets()) {
            yield { type: packet.type, time: Math.round(packet.timestamp * 1e6), data: packet.data };
          }
        } catch (error) {
          throw error instanceof CorruptVideo ? error : corrupt(error);
        }
      },
      close,
    };
  } catch (error) {
    close();
    throw error;
  }
}
