// Start the built site's own Pyodide under node, as the worker does, and make localhash need a
// module the build removed (site_build/trim.py) while hashing: the file must get a typed error
// record and the runtime must go on hashing the next file.
// usage: node pyodide_missing_module.mjs <dist/pyodide dir>; prints one JSON line.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [siteDir] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(join(siteDir, "pyodide.mjs")).href);
const pyodide = await loadPyodide({ indexURL: siteDir + "/" });
await pyodide.loadPackage(["numpy", "pillow", "localhash"], { messageCallback: () => {}, checkIntegrity: true });
const entry = pyodide.pyimport("localhash.browser");
const png = pyodide.runPython(`
import io
import numpy as np
from PIL import Image
picture = Image.fromarray(np.add.outer(np.arange(64), np.arange(96)).astype(np.uint8))
out = io.BytesIO()
picture.save(out, "PNG")
out.getvalue()
`).toJs();
const record = (proxy) => proxy.toJs({ dict_converter: Object.fromEntries });
const results = {};
for (const removed of ["numpy.random", "difflib", "PIL.ImageFont"]) {
  // pHash's step (record.imagehash_all) imports the removed module, as a future version might.
  pyodide.runPython(`
import importlib
import localhash.record as record
original = record.imagehash_all
def needs_removed_module(*args, **kwargs):
    importlib.import_module(${JSON.stringify(removed)})
record.imagehash_all = needs_removed_module
`);
  results[removed] = record(entry.hash_image(png, false, "full"));
  pyodide.runPython("record.imagehash_all = original");
  results[`${removed} then`] = record(entry.hash_image(png, false, "full"));
}
console.log(JSON.stringify(results));
