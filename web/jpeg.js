// A JPEG's pixels as the browser decodes them, for the worker (worker.js): which bytes the page is given to
// decode, and the decoded bitmap copied into the numpy array localhash hands out, a strip at a time.
// Whatever path gives the pixels, Python checks them against its own decode (localhash/pixelcheck.py).

// The JPEG's byte ranges without its EXIF (APP1 "Exif") and ICC profile (APP2 "ICC_PROFILE") blocks, for
// the page to slice the File. Browsers apply EXIF orientation when decoding, even when asked not to
// (Chromium treats imageOrientation "none" as "from-image"), and WebKit converts a picture with an ICC
// profile to the display's colours although colorSpaceConversion is "none" (measured in WebKitGTK; Safari
// does the same with the Display P3 profile of every iPhone photo). PDQ is defined on the stored pixels,
// as libjpeg decodes them; Python applies the orientation itself for pdq_oriented. Neither block changes
// how libjpeg decodes the pixels (Adobe's APP14, which does, is kept).
export function withoutExifOrIcc(bytes) {
  const ranges = [];
  let keepFrom = 0;
  let at = 2; // after SOI
  while (at + 4 <= bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1];
    if (marker === 0xda || marker === 0xd9) break; // start of scan / end of image: headers are over
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    if (isSegment(bytes, at, 0xe1, "Exif\0") || isSegment(bytes, at, 0xe2, "ICC_PROFILE\0")) {
      ranges.push([keepFrom, at]);
      keepFrom = at + 2 + length;
    }
    at += 2 + length;
  }
  ranges.push([keepFrom, bytes.length]);
  return ranges;
}

function isSegment(bytes, at, marker, name) {
  if (bytes[at + 1] !== marker) return false;
  for (let i = 0; i < name.length; i++) if (bytes[at + 4 + i] !== name.charCodeAt(i)) return false;
  return true;
}

// The bitmap's pixels, untouched (no colour management, no premultiplication: see hasher.js), copied
// strip by strip into the Python array the job hands out (JpegJob.next_strip): a 200 MP photo is 800 MB
// of RGBA, which a phone's tab cannot hold in wasm memory beside everything else. False when the
// picture does not fit the file.
export async function copyPixels(job, bitmap) {
  try {
    if (!job.begin(bitmap.width, bitmap.height)) return false;
    const copier = stripCopier(bitmap);
    try {
      for (let top = job.next_strip(); top >= 0; top = job.next_strip()) {
        const strip = job.strip;
        const view = strip.getBuffer("u8");
        try {
          await copier.copy(top, view.shape[0], view.data);
        } finally {
          view.release();
          strip.destroy();
        }
      }
    } finally {
      copier.close();
    }
    return true;
  } finally {
    bitmap.close();
  }
}

// Copies rows of a bitmap into wasm memory. WebCodecs copies a rectangle in one step, where a canvas
// takes three (draw, getImageData, set); where the engine cannot convert to RGBA, or refuses the
// rectangle, the rows are drawn on a canvas one strip high instead. Whatever path gave the pixels,
// Python compares them with its own decode before hashing them (localhash/pixelcheck.py).
function stripCopier(bitmap) {
  const { width, height } = bitmap;
  let frame = null;
  if (formatHonoured) {
    try {
      frame = new VideoFrame(bitmap, { timestamp: 0 });
    } catch {
      frame = null;
    }
    if (frame && !copiesAsShown(frame, width, height)) {
      frame.close();
      frame = null;
    }
  }
  let canvas = null;
  let context = null;
  function fromCanvas(top, rows, target) {
    if (!canvas) {
      canvas = new OffscreenCanvas(width, Math.min(rows, height));
      context = canvas.getContext("2d", { willReadFrequently: true });
      context.imageSmoothingEnabled = false; // a copy, not a resampling
      context.globalCompositeOperation = "copy";
    }
    context.drawImage(bitmap, 0, top, width, rows, 0, 0, width, rows);
    target.set(context.getImageData(0, 0, width, rows).data);
  }
  return {
    async copy(top, rows, target) {
      if (frame) {
        try {
          await frame.copyTo(target, { format: "RGBA", rect: { x: 0, y: top, width, height: rows } });
          return;
        } catch {
          frame.close(); // this engine cannot: the canvas copies this strip and the rest
          frame = null;
        }
      }
      fromCanvas(top, rows, target);
    },
    close() {
      if (frame) frame.close();
    },
  };
}

// Whether copyTo's rows are the bitmap's rows. A bitmap the decoder turned (an AVIF's rotation property)
// can keep its pixels as stored and the turn beside them: Chromium then makes a frame whose coded size is the
// stored one, with `rotation` set, and copyTo copies stored rows (measured: a 4032x3024 AVIF with a quarter
// turn gave a 4032x3024 frame with rotation 90 for a 3024x4032 bitmap). The canvas draws the bitmap as shown.
function copiesAsShown(frame, width, height) {
  const visible = frame.visibleRect;
  return (
    !frame.rotation &&
    !frame.flip &&
    frame.codedWidth === width &&
    frame.codedHeight === height &&
    (!visible || (visible.x === 0 && visible.y === 0 && visible.width === width && visible.height === height))
  );
}

// Whether this engine's copyTo honours `format`. WebKit's VideoFrameCopyToOptions has no `format`
// member (WebCore/Modules/webcodecs/VideoFrameCopyToOptions.idl knows `rect` and `layout`), so
// Safari and WebKitGTK copy the frame in its own layout (BGRA) and resolve all the same. A dictionary
// member an engine does not know is never read, so a getter tells, without copying anything. Asked
// once, of a 2x2 frame: building a 12 MP frame only to refuse it cost WebKit 90-320 ms per photo.
const formatHonoured = (() => {
  if (typeof VideoFrame !== "function" || typeof OffscreenCanvas !== "function") return false;
  let frame = null;
  let read = false;
  try {
    const canvas = new OffscreenCanvas(2, 2);
    canvas.getContext("2d").fillRect(0, 0, 2, 2);
    frame = new VideoFrame(canvas, { timestamp: 0 });
    frame.allocationSize({
      get format() {
        read = true;
        return "RGBA";
      },
    });
  } catch {
    // an engine that reads `format` but cannot convert: copyTo would throw too, and the canvas is used
  } finally {
    if (frame) frame.close();
  }
  return read;
})();
