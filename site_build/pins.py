"""sha256 of every Pyodide core file the site ships, pinned in git.

Computed from the npm registry tarball pyodide-0.27.7.tgz, whose sha512 equals the `integrity`
in package-lock.json (checked with `npm pack pyodide@0.27.7` and `openssl dgst -sha512`). The
official pyodide-lock.json is pinned too, because its sha256 entries verify the package wheels.
"""

CORE_SHA256 = {
    "pyodide.mjs": "04c052c815abb0bf2981fa38c2dfa58e3120ee5288c956df2b2a15e301782c5f",
    "pyodide.asm.js": "6b4c90de5b7172873f04f21884d0e9d2274e305fe32116558fe3e4fbe3618d51",
    "pyodide.asm.wasm": "a50dd1843f805a0b7c45b61037ee0d7b26dfe85efe0e18ef95a34ad24e401f5f",
    "python_stdlib.zip": "16611534726e5d8ac2bd8f926410b2dcb8d6f49aa24913463533b457a2115c16",
    "pyodide-lock.json": "9c45b916001a750f4102fc287494f3eab215909c7535c626a20db80fd6333e2c",
}
