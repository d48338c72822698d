// Pyodide host inside a dedicated module worker: boots in named stages, then hashes one file at a
// time with localhash (py/localhash/browser.py). Every message is described in MESSAGES.md.
// Nothing here touches the network except loading the site's own Pyodide files and wheels.
import { loadPyodide } from "./pyodide/pyodide.mjs";
import { copyPixels, withoutExifOrIcc } from "./jpeg.js";
// video_errors.js beside video_job.js, which imports it too: the worker's modules then arrive in one round trip, not two
import { Cancelled } from "./video_errors.js";
import { hashVideo } from "./video_job.js";

const SNIFF_BYTES = 16;
const CANCELLED = { ok: false, error: { code: "cancelled", message: "the file was removed while it was hashed" } };
const cancelled = new Set(); // ids of jobs the page cancelled (removed files)

let entry = null; // the Python module localhash.browser
let runtime = null; // the Pyodide instance, for the heap size the benchmark reads

function post(message) {
  self.postMessage(message);
}

const PACKAGES = ["numpy", "pillow", "localhash"];
const RUNTIME_URL = new URL("./pyodide/", import.meta.url).href;
const LOCK_URL = new URL("./pyodide/pyodide-lock.json", import.meta.url).href;

// Pyodide asks for the packages only once its runtime has started, and a slow link would sit idle
// in between (2-3 s on Slow 4G, then 10 s for numpy alone). So the packages are asked for now,
// beside the runtime, with the integrity Pyodide itself asks with (sha256 from the lock), and
// handed to Pyodide when it fetches the same URL. If Pyodide ever fetched otherwise, it would
// download them again: slower, never wrong.
const early = new Map(); // absolute URL -> Promise<Response>, each handed out once
const networkFetch = self.fetch.bind(self);
function prefetchPackages() {
  const lock = networkFetch(LOCK_URL);
  early.set(LOCK_URL, lock.then((response) => response.clone()));
  lock
    .then((response) => (response.ok ? response.json() : { packages: {} }))
    .then(({ packages }) => {
      for (const name of PACKAGES) {
        const entry = packages[name];
        if (!entry) continue;
        const url = new URL(entry.file_name, RUNTIME_URL).href;
        const integrity = "sha256-" + btoa(String.fromCharCode(...entry.sha256.match(/../g).map((h) => parseInt(h, 16))));
        early.set(url, networkFetch(url, { integrity }));
      }
    })
    .catch(() => {}); // Pyodide fetches for itself, and reports what fails
}
self.fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input), self.location.href).href;
  const response = early.get(url);
  if (!response) return networkFetch(input, init);
  early.delete(url);
  // A failed early request (the network, or bytes that do not match the lock) is asked again,
  // past the HTTP cache, which may hold the runtime's files for a year.
  return response.catch(() => networkFetch(input, { ...init, cache: "reload" }));
};

async function boot() {
  post({ type: "progress", stage: "runtime" });
  prefetchPackages();
  const pyodide = await loadPyodide({
    indexURL: RUNTIME_URL,
    // The trimmed lock lists numpy, pillow and localhash with their sha256; Pyodide checks each
    // wheel against it before installing.
    lockFileURL: LOCK_URL,
  });
  const quiet = { messageCallback: () => {}, errorCallback: (m) => console.warn(m), checkIntegrity: true };
  post({ type: "progress", stage: "packages" });
  // After installing, Pyodide calls importlib.invalidate_caches(). Python 3.12's zipimport then
  // re-reads the standard library zip's whole directory, in Python, once for every package
  // imported from it so far (14 of them): 150-200 ms of a 2.5 s start. That zip never changes
  // while the page lives, so there is nothing to invalidate.
  pyodide.runPython("import zipimport\nzipimport.zipimporter.invalidate_caches = lambda self: None");
  // One call: the three wheels download and install concurrently.
  await pyodide.loadPackage(PACKAGES, quiet);
  post({ type: "progress", stage: "localhash" });
  entry = pyodide.pyimport("localhash.browser");
  entry.warm_up(); // first calls are slow (lazy imports, wasm tier-up): pay that before "ready"
  runtime = pyodide;
  post({ type: "ready" });
}

function toRecord(proxy) {
  try {
    return proxy.toJs({ dict_converter: Object.fromEntries });
  } finally {
    proxy.destroy();
  }
}

// The video demuxers, in the runtime folder (the build fills in its name): video_job.js imports each the first time
// a video needs it.
const DEMUXERS = {
  mp4box: () => import("./pyodide/mp4box.all.mjs"),
  mediabunny: () => import("./pyodide/mediabunny.min.mjs"),
};

async function hashBlob(id, blob, options) {
  const head = new Uint8Array(await blob.slice(0, SNIFF_BYTES).arrayBuffer());
  const container = entry.sniff_video(head);
  if (container) {
    try {
      return await hashVideo({ id, blob, container, python: entry, post, cancelled: () => cancelled.has(id), demuxers: DEMUXERS });
    } catch (error) {
      if (error instanceof Cancelled) return CANCELLED;
      throw error;
    }
  }
  const bytes = new Uint8Array(await blob.arrayBuffer());
  post({ type: "progress", id, done: blob.size, total: blob.size });
  const dihedral = Boolean(options.dihedral);
  const mode = options.mode || "full";
  const variants = Boolean(options.variants);
  const decoder = entry.decoder_for(bytes);
  if (decoder === "libheif") return hashHeif(bytes, dihedral, mode, variants); // nothing else here decodes HEIF
  if (decoder === "avif") return hashAvif(id, bytes, dihedral, mode, variants);
  if (decoder === "browser" && options.decoder !== "pillow") {
    const decoding = pageDecode(id, withoutExifOrIcc(bytes)); // the page decodes while Pillow checks the file here
    const job = entry.JpegJob(bytes, dihedral, mode, variants);
    try {
      const error = job.error;
      if (error) {
        decoding.then((bitmap) => bitmap && bitmap.close()); // not waited for: the answer is known
        return toRecord(error);
      }
      const bitmap = await decoding;
      if (!bitmap) return toRecord(job.record_without_pixels("not_decoded", "the browser could not decode the file"));
      if (await copyPixels(job, bitmap)) return toRecord(job.record());
      return toRecord(job.record_without_pixels("wrong_size", "the browser decoded the picture at another size"));
    } finally {
      job.destroy();
    }
  }
  return toRecord(entry.hash_image(bytes, dihedral, mode, variants));
}

// HEIF (every iPhone's photos): libheif compiled to wasm, the same libheif the native extra
// (pillow-heif) uses, imported from the site only when someone chooses a HEIF: nobody else pays its
// 0.4 MB. Pyodide's Pillow cannot decode HEIF, so libheif's pixels are the only ones there are
// (heif.js says how they are taken).
let heif = null; // Promise of {open, HeifError}, once asked for
function loadHeif() {
  if (!heif) {
    heif = Promise.all([import("./heif.js"), import("./pyodide/libheif-bundle.mjs")]).then(async ([module, bundle]) => ({
      ...module.heifDecoder(await bundle.default()),
      HeifError: module.HeifError,
    }));
    heif.catch(() => (heif = null)); // a failed download is tried again with the next HEIF
  }
  return heif;
}

async function hashHeif(bytes, dihedral, mode, variants) {
  let decoder;
  try {
    decoder = await loadHeif();
  } catch (error) {
    const message = `the HEIF decoder could not be loaded (${String(error && error.message ? error.message : error).slice(0, 200)})`;
    return { ok: false, error: { code: "internal_error", message } };
  }
  let file = null;
  try {
    file = decoder.open(bytes);
    const job = entry.HeifJob(bytes, file.width, file.height, file.images, dihedral, mode, variants);
    try {
      if (job.error) return toRecord(job.error);
      const array = job.buffer();
      const view = array.getBuffer("u8");
      try {
        file.decodeInto(view.data);
      } finally {
        view.release();
        array.destroy();
      }
      return toRecord(job.record());
    } finally {
      job.destroy();
    }
  } catch (error) {
    if (!(error instanceof decoder.HeifError)) throw error;
    if (error.broken) heif = null; // the next HEIF gets a fresh libheif
    return toRecord(entry.heif_not_decoded(bytes, error.message, error.unsupported));
  } finally {
    if (file) file.close();
  }
}

// AVIF: browsers decode it themselves (Pyodide's Pillow cannot), and those pixels are hashed once they pass
// the check against libavif's decode of the same file (avif.js, imported only when someone chooses an AVIF:
// nobody else pays its 0.3 MB). The page decodes while libavif decodes here.
let avif = null; // Promise of {decode}, once asked for
let AvifError = null;
function loadAvif() {
  if (!avif) {
    avif = Promise.all([import("./avif.js"), import("./pyodide/avif_dec.js")]).then(([module, libavif]) => {
      AvifError = module.AvifError;
      return module.avifDecoder(libavif.default);
    });
    avif.catch(() => (avif = null)); // a failed download is tried again with the next AVIF
  }
  return avif;
}

async function hashAvif(id, bytes, dihedral, mode, variants) {
  const job = entry.AvifJob(bytes, dihedral, mode, variants);
  let decoding = null;
  try {
    if (job.error) return toRecord(job.error);
    decoding = pageDecode(id, [[0, bytes.length]], "image/avif");
    let decoder;
    try {
      decoder = await loadAvif();
    } catch (error) {
      const message = `the AVIF decoder could not be loaded (${String(error && error.message ? error.message : error).slice(0, 200)})`;
      return { ok: false, error: { code: "internal_error", message } };
    }
    let reference;
    try {
      reference = decoder.decode(bytes);
    } catch (error) {
      if (!(error instanceof AvifError)) throw error;
      if (error.broken) avif = null; // the next AVIF gets a fresh libavif
      return toRecord(entry.avif_not_decoded(bytes, error.message));
    }
    const array = job.reference(reference.width, reference.height);
    if (!array) return toRecord(entry.avif_not_decoded(bytes, `libavif decoded ${reference.width}x${reference.height}, not the size the file gives`));
    const view = array.getBuffer("u8");
    try {
      view.data.set(reference.data);
    } finally {
      view.release();
      array.destroy();
    }
    reference = null;
    job.reference_done();
    const bitmap = await decoding;
    decoding = null;
    if (!bitmap) return toRecord(job.record_without_pixels("not_decoded", "the browser could not decode the file"));
    if (await copyPixels(job, bitmap)) return toRecord(job.record());
    return toRecord(job.record_without_pixels("wrong_size", "the browser decoded the picture at another size"));
  } finally {
    if (decoding) decoding.then((bitmap) => bitmap && bitmap.close()); // not waited for: the answer is known
    job.destroy();
  }
}

// The page decodes JPEGs for us (hasher.js `decode`): there, createImageBitmap runs on the
// browser's decoder threads while this thread does Python's part of the same file. Resolves to
// an ImageBitmap, or null when the browser cannot decode the file (Pillow then reports why).
const decodes = new Map(); // id -> resolve
function pageDecode(id, ranges, mime = "image/jpeg") {
  return new Promise((resolve) => {
    decodes.set(id, resolve);
    post({ type: "decode", id, ranges, mime });
  });
}

async function handle({ id, type, blob, options }) {
  if (type === "memory") {
    post({ type: "memory", id, bytes: runtime._module.HEAPU8.byteLength });
    return;
  }
  if (type !== "hash") {
    post({ type: "result", id, record: { ok: false, error: { code: "bad_request", message: `unknown message type ${type}` } } });
    return;
  }
  if (cancelled.has(id)) {
    cancelled.delete(id);
    post({ type: "result", id, record: CANCELLED, heap: runtime._module.HEAPU8.byteLength });
    return;
  }
  post({ type: "started", id });
  try {
    const record = await hashBlob(id, blob instanceof Blob ? blob : new Blob([blob]), options || {});
    // The heap size right after the file, for the benchmark: after a large picture the page replaces
    // this worker, and a later `memory` question would reach the fresh one.
    cancelled.delete(id);
    post({ type: "result", id, record, heap: runtime._module.HEAPU8.byteLength });
  } catch (error) {
    // A Python exception is already a typed record; anything reaching here is the runtime itself
    // failing (typically wasm memory exhausted). Report it for this file, then stop: the page
    // starts a fresh worker for the rest of the queue.
    post({ type: "result", id, record: { ok: false, error: { code: "worker_crashed", message: String(error && error.message ? error.message : error).slice(0, 300) } } });
    post({ type: "fatal" });
    self.close();
  }
}

const booted = boot().catch((error) => {
  post({ type: "boot_failed", error: { code: "boot_failed", message: String(error && error.message ? error.message : error).slice(0, 300) } });
  throw error;
});

let queue = Promise.resolve();
self.onmessage = (event) => {
  const message = event.data;
  if (message.type === "decoded") {
    // not queued: the running job is waiting for it
    decodes.get(message.id)?.(message.bitmap);
    decodes.delete(message.id);
    return;
  }
  if (message.type === "cancel") {
    cancelled.add(message.id); // not queued: the running job checks it between slices and frames
    return;
  }
  queue = queue.then(() => booted).then(() => handle(message), () => {});
};
