// The page's side of the hashing worker: a queue of jobs with ids, progress callbacks, and a
// disposable worker (restarted after a crash, and after very large images because wasm memory
// never shrinks). It defines window.localhash, the surface integrators use (see README).
(function () {
  "use strict";

  const RECYCLE_AFTER_PIXELS = 40e6; // a fresh worker after a 40 MP image gives its memory back
  // A video's frames are decoded with progress at every second of video; a worker silent this long
  // there is stuck (a demuxer looping on a damaged file, a decoder that never answers): it is replaced.
  const VIDEO_STALL_MS = 60_000;

  class Hasher {
    constructor(workerURL) {
      this.workerURL = workerURL;
      this.nextId = 1;
      this.pending = new Map(); // id -> {blob, options, resolve, onProgress}
      this.running = null;
      this.stage = "idle";
      this.stageLog = []; // [{stage, ms since navigation}], for the benchmark and the tests
      this.listeners = new Set();
      this.paused = false;
      this.watched = null; // {id, fallback, timer}: the video job being demuxed and decoded, watched for silence
      this.start();
    }

    start() {
      this.unwatch();
      if (this.worker) this.worker.terminate(); // never two workers: each would take every queued job
      const worker = new Worker(this.workerURL, { type: "module" });
      this.worker = worker;
      // One ready promise until it settles: whoever awaits it across a pause or a crash during
      // boot still hears when a worker is ready.
      if (!this.ready || this.readySettled) {
        this.readySettled = false;
        this.ready = new Promise((resolve, reject) => {
          this.resolveReady = (value) => ((this.readySettled = true), resolve(value));
          this.rejectReady = (error) => ((this.readySettled = true), reject(error));
        });
        this.ready.catch(() => {});
      }
      worker.onmessage = (event) => worker === this.worker && this.onMessage(event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        if (worker === this.worker) this.restart("worker_crashed", event.message || "the hashing worker stopped");
      };
      for (const [id, job] of this.pending) {
        worker.postMessage(job.kind === "memory" ? { id, type: "memory" } : { id, type: "hash", blob: job.blob, options: job.options });
      }
    }

    // The status screen needs no runtime: someone who only checks or withdraws a case should not
    // pay for its 5 MB on mobile data. Pausing before "ready" stops the worker, and with it every
    // download it has in flight; resuming starts it again (queued files are posted to it again).
    pause() {
      if (this.paused || this.stage === "ready") return;
      this.paused = true;
      this.worker.terminate();
      this.setStage("idle");
    }

    resume() {
      if (!this.paused) return;
      this.paused = false;
      this.start();
    }

    restart(code, message) {
      this.worker.terminate();
      if (this.running !== null) {
        this.finish(this.running, { ok: false, error: { code, message } });
      }
      if (!this.paused) this.start(); // a paused hasher starts again on resume
    }

    // The worker is demuxing and decoding video `id`: `fallback` is the record it would give without vPDQ
    // (its digests, vpdq_error video_stalled). Every message about the job re-arms the watch.
    watch(id, fallback) {
      this.unwatch();
      this.watched = { id, fallback, timer: setTimeout(() => this.stalled(id), VIDEO_STALL_MS) };
    }

    rearm(id) {
      if (this.watched?.id === id) this.watch(id, this.watched.fallback);
    }

    unwatch() {
      if (this.watched) clearTimeout(this.watched.timer);
      this.watched = null;
    }

    // The worker said nothing about video `id` for VIDEO_STALL_MS: it is stuck in code that never yields.
    // The file keeps its digests and says why it has no vPDQ; a new worker takes the queue.
    stalled(id) {
      const { fallback } = this.watched;
      this.watched = null;
      this.worker.terminate();
      this.finish(id, fallback);
      if (!this.paused) this.start();
    }

    onStage(listener) {
      this.listeners.add(listener);
      listener(this.stage);
    }

    setStage(stage) {
      this.stage = stage;
      this.stageLog.push({ stage, ms: Math.round(performance.now()) });
      for (const listener of this.listeners) listener(stage);
    }

    onMessage(message) {
      switch (message.type) {
        case "progress":
          if (message.stage) this.setStage(message.stage);
          else {
            this.rearm(message.id);
            this.pending.get(message.id)?.onProgress?.(message.done, message.total, message.unit || "bytes");
          }
          break;
        case "video":
          if (this.pending.has(message.id)) this.watch(message.id, message.fallback);
          break;
        case "ready":
          this.setStage("ready");
          this.resolveReady();
          break;
        case "boot_failed":
          this.setStage("failed");
          this.rejectReady(Object.assign(new Error(message.error.message), message.error));
          for (const id of [...this.pending.keys()]) this.finish(id, { ok: false, error: message.error });
          break;
        case "started":
          this.running = message.id;
          break;
        case "decode":
          this.decode(message.id, message.ranges, message.mime);
          break;
        case "result":
          this.heapAfterLastFile = message.heap;
          this.finish(message.id, message.record);
          if (message.record.ok && message.record.width * message.record.height > RECYCLE_AFTER_PIXELS) {
            this.worker.terminate(); // queued jobs are posted again to the new worker
            this.start();
          }
          break;
        case "memory":
          this.pending.get(message.id)?.resolve(message.bytes);
          this.pending.delete(message.id);
          break;
        case "fatal":
          this.worker.terminate();
          this.start();
          break;
      }
    }

    finish(id, record) {
      if (this.watched?.id === id) this.unwatch();
      const job = this.pending.get(id);
      if (this.running === id) this.running = null;
      if (!job) return;
      this.pending.delete(id);
      job.resolve(record);
    }

    // The worker asks the page to decode a JPEG or an AVIF: createImageBitmap here runs on the browser's
    // decoder threads while the worker does its own part of the same file, and the bitmap is
    // transferred, not copied. A JPEG's `ranges` leave out the EXIF and ICC blocks (jpeg.js
    // withoutExifOrIcc), so the stored orientation is decoded and no engine colour-manages;
    // premultiplication is off too, so the pixels are the decoder's own, as platforms' pipelines see them.
    // An AVIF is decoded whole and turned as its rotation and mirror properties say (HEIF readers must).
    async decode(id, ranges, mime = "image/jpeg") {
      const worker = this.worker;
      let bitmap = null;
      try {
        const blob = this.pending.get(id).blob;
        const parts = ranges.map(([start, end]) => blob.slice(start, end));
        const options = { colorSpaceConversion: "none", premultiplyAlpha: "none" };
        const type = mime === "image/avif" ? "image/avif" : "image/jpeg";
        bitmap = await createImageBitmap(new Blob(parts, { type }), options);
      } catch {
        bitmap = null; // the worker lets Pillow decode the file, and report why it cannot
      }
      if (worker !== this.worker) {
        if (bitmap) bitmap.close(); // a restarted worker asks again
        return;
      }
      worker.postMessage({ type: "decoded", id, bitmap }, bitmap ? [bitmap] : []);
    }

    // The worker's wasm heap in bytes (it only grows): for the benchmark.
    wasmHeapBytes() {
      const id = this.nextId++;
      return new Promise((resolve) => {
        this.pending.set(id, { blob: null, options: null, resolve, kind: "memory" });
        this.worker.postMessage({ id, type: "memory" });
      });
    }

    // A job the caller no longer wants (a removed file): it resolves now with `cancelled`, and the worker
    // stops it at its next slice or video frame (a video can take minutes) or skips it when it comes.
    cancel(id) {
      if (!this.pending.has(id)) return;
      this.worker.postMessage({ type: "cancel", id });
      this.finish(id, { ok: false, error: { code: "cancelled", message: "the file was removed while it was hashed" } });
    }

    // Resolves to the record `python -m localhash hash` prints for the same file (without "file").
    // The Blob is handed to the worker by reference: its bytes are read there, never copied here.
    // `options.signal` (an AbortSignal) cancels it; `onProgress(done, total, unit)`: unit "bytes" while the
    // file is read, "seconds" of video while a video's frames are decoded.
    hashFile(blob, options = {}, onProgress = null) {
      const id = this.nextId++;
      const clean = {
        dihedral: Boolean(options.dihedral),
        variants: Boolean(options.variants), // also the PDQ of the picture as apps re-frame it
        mode: options.mode === "reference-cli" ? "reference-cli" : "full",
        decoder: options.decoder === "pillow" ? "pillow" : "browser", // "pillow": measure Pyodide's libjpeg
      };
      const signal = options.signal;
      const done = new Promise((resolve) => {
        this.pending.set(id, { blob, options: clean, resolve, onProgress: onProgress || options.onProgress });
        this.worker.postMessage({ id, type: "hash", blob, options: clean });
      });
      if (signal) {
        if (signal.aborted) this.cancel(id);
        else signal.addEventListener("abort", () => this.cancel(id), { once: true });
      }
      return done;
    }
  }

  // Started right after first paint: the page never waits for Pyodide.
  const hasher = new Hasher(new URL("worker.js", document.currentScript.src));
  // defineProperties, not Object.assign: `ready` and `stageLog` must stay live getters (a restart
  // replaces the worker and its ready promise).
  window.localhash = window.localhash || {};
  Object.defineProperties(window.localhash, {
    ready: { get: () => hasher.ready, enumerable: true },
    stageLog: { get: () => hasher.stageLog.slice(), enumerable: true },
    hashFile: { value: (blob, options) => hasher.hashFile(blob, options), enumerable: true },
    onStage: { value: (listener) => hasher.onStage(listener), enumerable: true },
    restartWorker: { value: () => hasher.restart("worker_restarted", "the worker was restarted"), enumerable: true },
    pause: { value: () => hasher.pause(), enumerable: true },
    resume: { value: () => hasher.resume(), enumerable: true },
    wasmHeapBytes: { value: () => hasher.wasmHeapBytes(), enumerable: true },
    heapAfterLastFile: { get: () => hasher.heapAfterLastFile, enumerable: true },
  });
})();
