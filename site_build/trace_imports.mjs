// Build step run by site_build/trace.py: which Python modules does the site import? Starts the
// staged site's own Pyodide under node and drives localhash exactly as web/worker.js does (same
// calls, same order) over every kind of file (site_build/trace_samples.py), then prints, as one
// JSON line, every module in sys.modules with the file it came from.
// usage:
//   node trace_imports.mjs samples <pyodide dir> <out dir>   writes the sample files (a Pyodide of their own)
//   node trace_imports.mjs trace <pyodide dir> <samples dir> [<JSON list of modules to import at the end>]
//     prints {"modules": {name: file|null}, "outcomes": {path: "ok" or the error code}}
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const [mode, pyodideDir, folder, alsoImport] = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
const { loadPyodide } = await import(pathToFileURL(join(pyodideDir, "pyodide.mjs")).href);
const quiet = { messageCallback: () => {}, errorCallback: (m) => console.error(m), checkIntegrity: true };

async function main() {

  if (mode === "samples") {
    const pyodide = await loadPyodide({ indexURL: pyodideDir + "/" });
    await pyodide.loadPackage(["numpy", "pillow"], quiet);
    const namespace = pyodide.toPy({});
    pyodide.runPython(readFileSync(join(here, "trace_samples.py"), "utf8"), { globals: namespace });
    const made = namespace.get("samples")().toJs({ dict_converter: Object.fromEntries });
    for (const [name, bytes] of Object.entries(made)) writeFileSync(join(folder, name), bytes);
    // The RGBA pixels a browser would hand over for each JPEG it decodes (Pillow's, here).
    const pixels = pyodide.runPython(`
  import io
  import numpy as np
  from PIL import Image
  def rgba(data):
      with Image.open(io.BytesIO(data.to_bytes())) as image:
          return image.width, image.height, np.asarray(image.convert("RGBA")).tobytes()
  rgba`);
    for (const [name, bytes] of Object.entries(made)) {
      if (!name.startsWith("jpeg")) continue;
      const [width, height, data] = pixels(bytes).toJs();
      writeFileSync(join(folder, `${name}.${width}x${height}.rgba`), data);
    }
    return;
  }

  // As web/worker.js boots.
  const pyodide = await loadPyodide({ indexURL: pyodideDir + "/", lockFileURL: join(pyodideDir, "pyodide-lock.json") });
  pyodide.runPython("import zipimport\nzipimport.zipimporter.invalidate_caches = lambda self: None");
  await pyodide.loadPackage(["numpy", "pillow", "localhash"], quiet);
  const entry = pyodide.pyimport("localhash.browser");
  entry.warm_up();

  const toRecord = (proxy) => {
    const record = proxy.toJs({ dict_converter: Object.fromEntries });
    proxy.destroy();
    return record;
  };
  const outcome = (record) => (record.ok ? "ok" : record.error.code); // trace.py checks each
  const names = readdirSync(folder).filter((name) => !name.endsWith(".rgba"));
  const pixelsFor = (name) => readdirSync(folder).find((f) => f.startsWith(name + ".") && f.endsWith(".rgba"));
  const outcomes = {};
  for (const name of names.sort()) {
    const bytes = new Uint8Array(readFileSync(join(folder, name)));
    const container = entry.sniff_video(bytes.slice(0, 16));
    if (container) {
      const hasher = entry.VideoHasher(container);
      hasher.update(bytes);
      outcomes[name] = outcome(toRecord(hasher.record()));
      if (container === "MP4") traceVideoFrames(name, hasher);
      hasher.destroy();
      continue;
    }
    for (const [dihedral, hashMode, variants] of [[false, "full", false], [true, "full", true], [false, "reference-cli", true]]) {
      outcomes[`${name} pillow ${dihedral} ${hashMode} ${variants}`] = outcome(toRecord(entry.hash_image(bytes, dihedral, hashMode, variants)));
    }
    if (entry.decoder_for(bytes) === "avif") {
      traceAvif(bytes, pixelsFor("jpeg"));
      continue;
    }
    if (entry.decoder_for(bytes) !== "browser") continue;
    const rgba = pixelsFor(name);
    // the browser's pixels as they should be, all zero (the pixel check refuses them), or none
    for (const fault of ["none", "zero", "not_decoded", "wrong_size"]) {
      const job = entry.JpegJob(bytes, true, "full", true);
      let record;
      if (job.error) {
        record = toRecord(job.error);
      } else if (fault === "not_decoded" || fault === "wrong_size" || !rgba) {
        record = toRecord(job.record_without_pixels(fault, "traced"));
      } else {
        const [width, height] = rgba.split(".").at(-2).split("x").map(Number);
        const pixels = readFileSync(join(folder, rgba));
        job.begin(width, height);
        for (let top = job.next_strip(); top >= 0; top = job.next_strip()) {
          const strip = job.strip;
          const view = strip.getBuffer("u8");
          if (fault === "none") view.data.set(pixels.subarray(top * width * 4, top * width * 4 + view.data.length));
          else view.data.fill(0);
          view.release();
          strip.destroy();
        }
        record = toRecord(job.record());
      }
      outcomes[`${name} browser ${fault}`] = outcome(record);
      job.destroy();
    }
    // The HEIF path after libheif (which the trace does not load: it imports no Python of its own):
    // its pixels hashed, or libheif's refusal.
    if (rgba) {
      const [width, height] = rgba.split(".").at(-2).split("x").map(Number);
      const job = entry.HeifJob(bytes, width, height, 1, true, "full", true);
      const array = job.buffer();
      const view = array.getBuffer("u8");
      view.data.set(readFileSync(join(folder, rgba)));
      view.release();
      array.destroy();
      outcomes[`${name} libheif`] = outcome(toRecord(job.record()));
      job.destroy();
      outcomes[`refused-corrupt_image-${name} libheif`] = outcome(toRecord(entry.heif_not_decoded(bytes, "traced")));
    }
  }
  // A video's frames as web/video.js hands them over after WebCodecs decoded them (which does not run here): a
  // pattern in every layout the worker copies, all zero (refused), none (the browser cannot decode it), too
  // small; a container that cannot be read.
  function traceVideoFrames(name, hasher) {
    const [num, den] = entry.mov_frame_rate([120, 1], [1001, 90090], 30000).toJs();
    const [width, height] = [96, 72];
    for (const fault of ["I420", "NV12", "RGBA", "BGRX", "zero"]) {
      const layout = fault === "zero" ? "I420" : fault;
      const frames = entry.video_frames(num, den, width, height, layout === "NV12");
      for (let i = 0; i < 3 * 29 + 1; i++) {
        if (!frames.take()) continue;
        const array = frames.buffer(layout);
        const view = array.getBuffer("u8");
        for (let at = 0; at < view.data.length; at++) view.data[at] = fault === "zero" ? 0 : (at * 7 + i) % 251;
        view.release();
        array.destroy();
        const reference = frames.reference(); // the engine's drawing the planes are checked against
        const drawn = reference.getBuffer("u8");
        drawn.data.fill(128);
        drawn.release();
        reference.destroy();
        const job = frames.job(layout, "bt709", false); // in steps, as video.js hashes a kept frame
        while (job.step());
        job.destroy();
      }
      outcomes[`${name} frames ${fault}`] = outcome(toRecord(hasher.record(frames)));
      frames.destroy();
    }
    const none = entry.vpdq_unavailable("unsupported_codec", "traced");
    outcomes[`${name} frames unavailable`] = outcome(toRecord(hasher.record(none)));
    none.destroy();
    const small = entry.video_frames(num, den, 4, 2, false);
    outcomes[`refused-too_small-${name} frames`] = outcome(toRecord(hasher.record(small)));
    small.destroy();
    outcomes[`refused-corrupt_video-${name} frames`] = outcome(toRecord(entry.video_corrupt("traced")));
  }

  // The AVIF path after libavif and the page's decode (neither runs here): the browser's pixels as they
  // should be (the jpeg sample's, for boxes of its size), all zero (libavif's are hashed instead), or none;
  // libavif's refusal.
  function traceAvif(bytes, rgba) {
    const [width, height] = rgba.split(".").at(-2).split("x").map(Number);
    const pixels = readFileSync(join(folder, rgba));
    const fill = (array, data) => {
      const view = array.getBuffer("u8");
      if (data) view.data.set(data.subarray(0, view.data.length));
      else view.data.fill(0);
      view.release();
      array.destroy();
    };
    for (const fault of ["none", "zero", "not_decoded"]) {
      const job = entry.AvifJob(bytes, true, "full", true);
      fill(job.reference(width, height), pixels);
      job.reference_done();
      let record;
      if (fault === "not_decoded") {
        record = toRecord(job.record_without_pixels(fault, "traced"));
      } else {
        job.begin(width, height);
        for (let top = job.next_strip(); top >= 0; top = job.next_strip()) {
          fill(job.strip, fault === "none" ? pixels.subarray(top * width * 4) : null);
        }
        record = toRecord(job.record());
      }
      outcomes[`avif browser ${fault}`] = outcome(record);
      job.destroy();
    }
    outcomes["refused-corrupt_image-avif libavif"] = outcome(toRecord(entry.avif_not_decoded(bytes, "traced")));
  }

  // A Python exception reaching JavaScript (the worker reports it as the file's error).
  try {
    pyodide.runPython("raise ValueError('traced')");
  } catch (error) {
    outcomes["python error"] = String(error.message).includes("ValueError: traced") ? "ok" : String(error.message);
  }
  // Lazy imports no sample reaches (trim.STDLIB_KEPT): imported here, so that what they import is kept.
  const importlib = pyodide.pyimport("importlib");
  for (const name of JSON.parse(alsoImport || "[]")) importlib.import_module(name);
  const modules = pyodide.runPython(`
  import sys
  {name: getattr(module, "__file__", None) for name, module in list(sys.modules.items())}
  `);
  console.log(JSON.stringify({ modules: modules.toJs({ dict_converter: Object.fromEntries }), outcomes }));
}

// A failure prints Python's message alone (node would print the minified line it came from).
main().then(
  () => process.exit(0),
  (error) => {
    console.error(`trace_imports ${mode} failed: ${error && error.message ? error.message : error}`);
    process.exit(1);
  },
);
