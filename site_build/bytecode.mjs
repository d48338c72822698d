// Build step run by site_build/bytecode.py: start the pinned Pyodide under node and compile zips
// with its own CPython (site_build/bytecode_archive.py), so the bytecode is exactly what the
// browser's Pyodide would have compiled itself on every visit.
// usage: node bytecode.mjs <pyodide dir> <jobs.json>; jobs: [{src, dst, keep_sources, runtime_prefix, strip_docstrings}]
// Prints one JSON line per job.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const [pyodideDir, jobsFile] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(join(pyodideDir, "pyodide.mjs")).href);
// A fixed hash seed: nothing about the compile may vary from one build to the next.
const pyodide = await loadPyodide({ indexURL: pyodideDir + "/", env: { PYTHONHASHSEED: "0" } });
pyodide.FS.mkdir("/host");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: "/" }, "/host");

const here = dirname(fileURLToPath(import.meta.url));
const namespace = pyodide.toPy({});
pyodide.runPython(readFileSync(join(here, "bytecode_archive.py"), "utf8"), { globals: namespace });
const compileArchive = namespace.get("compile_archive");
for (const job of JSON.parse(readFileSync(jobsFile, "utf8"))) {
  const result = compileArchive(
    "/host" + job.src,
    "/host" + job.dst,
    job.keep_sources,
    job.runtime_prefix,
    job.strip_docstrings,
  );
  console.log(JSON.stringify({ src: job.src, ...result.toJs({ dict_converter: Object.fromEntries }) }));
  result.destroy();
}
