// libavif (npm @jsquash/avif: libavif 1.0.1 with aom 3.7.0, compiled to wasm) as the worker uses it for AVIF:
// the reference decode the browser's own AVIF pixels are checked against (py/localhash/browser.py AvifJob),
// and hashed instead when they fail. The worker imports this module and libavif's (avif_dec.js, in the
// runtime folder) only when someone chooses an AVIF (worker.js hashAvif).
//
// jSquash's own decode() wrapper is not used: it only adds a feature check for the encoder. The module's
// factory is called as that wrapper calls it (noInitialRun: the module has no main to run).

// libavif could not decode the file (its wasm build says no more than that). `broken`: the module itself
// failed (aborted, out of memory), so the caller should not use this instance again.
export class AvifError extends Error {
  constructor(message, { broken = false } = {}) {
    super(message);
    this.broken = broken;
  }
}

// `factory`: avif_dec.js's default export, Emscripten's module factory (it finds avif_dec.wasm beside itself).
export async function avifDecoder(factory) {
  const module = await factory({ noInitialRun: true });
  // The file's RGBA as libavif decodes it, as stored (libavif applies no rotation or mirror), 8 bits per
  // sample: an ImageData. Throws AvifError.
  function decode(bytes) {
    let image;
    try {
      image = module.decode(bytes, 8);
    } catch (error) {
      throw new AvifError(`libavif failed (${String(error && error.message ? error.message : error).slice(0, 100)})`, { broken: true });
    }
    if (!image) throw new AvifError("libavif could not decode it");
    if (image.data.length !== image.width * image.height * 4) throw new AvifError(`libavif decoded ${image.width}x${image.height} with ${image.data.length} bytes`);
    return image;
  }
  return { decode };
}
