// Start the built site's own Pyodide (dist/pyodide: runtime, compiled stdlib, compiled wheels)
// under node, import localhash as the worker does, and print how each module was loaded.
// usage: node pyodide_imports.mjs <dist/pyodide dir>
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [siteDir] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(join(siteDir, "pyodide.mjs")).href);
const pyodide = await loadPyodide({ indexURL: siteDir + "/" });
// Record every module Python has to compile from source from here on.
pyodide.runPython(`
import importlib._bootstrap_external as bootstrap
compiled_from_source = []
_source_to_code = bootstrap.SourceLoader.source_to_code
def _spy(self, data, path, *args, **kwargs):
    compiled_from_source.append(str(path))
    return _source_to_code(self, data, path, *args, **kwargs)
bootstrap.SourceLoader.source_to_code = _spy
`);
await pyodide.loadPackage(["numpy", "pillow", "localhash"], { messageCallback: () => {}, checkIntegrity: true });
const report = pyodide.runPython(`
import sys
import localhash.browser

def loader_name(module):
    loader = getattr(module, "__loader__", None)  # a class for frozen and built-in modules
    return loader.__name__ if isinstance(loader, type) else type(loader).__name__

localhash.browser.warm_up()
import zipfile, numpy, PIL.Image, localhash.pdq
({
    "docs": {name: eval(name).__doc__ for name in ("zipfile.ZipFile", "PIL.Image.Image", "numpy.zeros_like", "localhash.pdq.pdq_hash")},
    "compiled_from_source": compiled_from_source,
    "files": {name: getattr(module, "__file__", None) for name, module in sorted(sys.modules.items())},
    "loaders": {name: loader_name(module) for name, module in sys.modules.items()},
    "cached": {name: module.__spec__.cached for name, module in sys.modules.items()
               if name.startswith("localhash") and module.__spec__ is not None},
})
`);
// No json module in the site's standard library (only what the site imports): JSON is made here.
console.log(JSON.stringify(report.toJs({ dict_converter: Object.fromEntries }), (_, v) => (v === undefined ? null : v)));
