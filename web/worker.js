// Pyodide host inside a dedicated module worker: boots in named stages, then hashes one file at a
// time with localhash (py/localhash/browser.py). Every message is described in MESSAGES.md.
// Nothing here touches the network except loading the site's own Pyodide files and wheels.
import { loadPyodide } from "./pyodide/pyodide.mjs";

const CHUNK_BYTES = 8 * 1024 * 1024; // videos are read in 8 MiB slices: memory stays flat
const SNIFF_BYTES = 16;

let entry = null; // the Python module localhash.browser

function post(message) {
  self.postMessage(message);
}

async function boot() {
  post({ type: "progress", stage: "runtime" });
  const pyodide = await loadPyodide({
    indexURL: new URL("./pyodide/", import.meta.url).href,
    // The trimmed lock lists numpy, pillow and localhash with their sha256; Pyodide checks each
    // wheel against it before installing.
    lockFileURL: new URL("./pyodide/pyodide-lock.json", import.meta.url).href,
  });
  const quiet = { messageCallback: () => {}, errorCallback: (m) => console.warn(m), checkIntegrity: true };
  post({ type: "progress", stage: "packages" });
  await pyodide.loadPackage(["numpy", "pillow"], quiet);
  post({ type: "progress", stage: "localhash" });
  await pyodide.loadPackage(["localhash"], quiet);
  entry = pyodide.pyimport("localhash.browser");
  post({ type: "ready" });
}

function toRecord(proxy) {
  try {
    return proxy.toJs({ dict_converter: Object.fromEntries });
  } finally {
    proxy.destroy();
  }
}

async function hashVideo(id, blob, container) {
  const hasher = entry.VideoHasher(container);
  try {
    for (let offset = 0; offset < blob.size; offset += CHUNK_BYTES) {
      const chunk = new Uint8Array(await blob.slice(offset, offset + CHUNK_BYTES).arrayBuffer());
      hasher.update(chunk);
      post({ type: "progress", id, done: Math.min(offset + CHUNK_BYTES, blob.size), total: blob.size });
    }
    return toRecord(hasher.record());
  } finally {
    hasher.destroy();
  }
}

async function hashBlob(id, blob, options) {
  const head = new Uint8Array(await blob.slice(0, SNIFF_BYTES).arrayBuffer());
  const container = entry.sniff_video(head);
  if (container) return hashVideo(id, blob, container);
  const bytes = new Uint8Array(await blob.arrayBuffer());
  post({ type: "progress", id, done: blob.size, total: blob.size });
  return toRecord(entry.hash_image(bytes, Boolean(options.dihedral), options.mode || "full"));
}

async function handle({ id, type, blob, options }) {
  if (type !== "hash") {
    post({ type: "result", id, record: { ok: false, error: { code: "bad_request", message: `unknown message type ${type}` } } });
    return;
  }
  post({ type: "started", id });
  try {
    const record = await hashBlob(id, blob instanceof Blob ? blob : new Blob([blob]), options || {});
    post({ type: "result", id, record });
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
  queue = queue.then(() => booted).then(() => handle(event.data), () => {});
};
