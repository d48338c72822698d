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

# libheif compiled to wasm, which the worker loads only when a HEIF photo is chosen (issue 11). From the
# npm tarball libheif-js-1.19.8.tgz (libheif 1.19.8, libde265 1.0.15), whose sha512 equals the `integrity`
# in package-lock.json (checked with `npm pack libheif-js@1.19.8` and `openssl dgst -sha512`). The bundle
# carries its wasm inline, so one module import is the whole decoder; LGPL-3.0, its licence ships beside it.
LIBHEIF_VERSION = "1.19.8"
LIBHEIF_SHA256 = {
    "libheif-wasm/libheif-bundle.mjs": "8363e27add6c587b20f183fb746a583f97f28e8641f12955a1a550c38a4f9969",
    "libheif-wasm/LICENSE": "fa81ce652315b013359d6e8e4744335f31a50c7c192907176d3632f78a3b4596",
}
# Where each lands in the runtime folder (worker.js imports the bundle from there).
LIBHEIF_SERVED = {
    "libheif-wasm/libheif-bundle.mjs": "libheif-bundle.mjs",
    "libheif-wasm/LICENSE": "libheif-LICENSE.txt",
}

# libavif compiled to wasm (libavif 1.0.1 with aom 3.7.0), which the worker loads only when an AVIF is chosen
# (issue 11): the reference the browser's own AVIF decode is checked against (browser.AvifJob). From the npm
# tarball @jsquash/avif-2.1.1.tgz, whose sha512 equals the `integrity` in package-lock.json (checked with
# `npm pack @jsquash/avif@2.1.1` and `openssl dgst -sha512`). Only the decoder ships; Apache-2.0 (libavif and
# aom: BSD-2-Clause), its licence beside it. The module finds its wasm beside itself (import.meta.url).
AVIF_DECODER_VERSION = "2.1.1"
AVIF_DECODER_SHA256 = {
    "codec/dec/avif_dec.js": "65d0fd2b2e415bf2712c329694dc2bc257fc54f02572c29d5c46212ae6dc6c3c",
    "codec/dec/avif_dec.wasm": "5c35dde23dfd862088a49a6b8a9fe81f9f9a1a46aaa27de7efd7baa7611c4b47",
    "LICENSE": "8c3690b09c168f196446cf5904332023bbc15eb92b6a7cee470ac829e6a65d20",
}
AVIF_DECODER_SERVED = {
    "codec/dec/avif_dec.js": "avif_dec.js",
    "codec/dec/avif_dec.wasm": "avif_dec.wasm",
    "LICENSE": "avif_dec-LICENSE.txt",
}

# mp4box.js (GPAC), the MP4/MOV demuxer the worker loads only when a video is chosen (issue 13): it reads the
# `moov` box's sample tables, and web/video.js hands the samples to WebCodecs. From the npm tarball
# mp4box-2.4.1.tgz, whose sha512 equals the `integrity` in package-lock.json (checked with `npm pack mp4box@2.4.1`
# and `openssl dgst -sha512`). Its ES module build is three files that import each other by these names, so they
# keep them; BSD-3-Clause, its licence beside them.
MP4BOX_VERSION = "2.4.1"
MP4BOX_SHA256 = {
    "dist/mp4box.all.mjs": "34fa8fd681e8b63998ca9e4c3b477830dd11310c8aaedc37ecb8f49c5452d259",
    "dist/styp-9TIZZDLN.mjs": "ae15acb79233251b72af7f7cc9f47e7f47cadb209206753b7000b502a2391049",
    "dist/rolldown-runtime-w6R9maHv.mjs": "183552fe973134bce551888434b581d5a2cb695a82d8907e2cd9d2b61e12ce24",
    "LICENSE": "ebad0332150a08f37389158289d93ab2f70b0ee8717d1db9b3d002febc6c5047",
}
MP4BOX_SERVED = {
    "dist/mp4box.all.mjs": "mp4box.all.mjs",
    "dist/styp-9TIZZDLN.mjs": "styp-9TIZZDLN.mjs",
    "dist/rolldown-runtime-w6R9maHv.mjs": "rolldown-runtime-w6R9maHv.mjs",
    "LICENSE": "mp4box-LICENSE.txt",
}

# Mediabunny (Vanilagy and contributors), the WebM/Matroska and fragmented MP4 demuxer the worker loads beside
# mp4box.js when a video is chosen (issue 13): mp4box.js reads a file's whole sample table from its `moov`, which
# neither a WebM nor a fragmented MP4 has. From the npm tarball mediabunny-1.61.0.tgz, whose sha512 equals the
# `integrity` in package-lock.json (checked with `npm pack mediabunny@1.61.0` and `openssl dgst -sha512`). Its
# browser ES module build is one self-contained file (no imports; its muxers and encoders, which would start
# workers from blob: URLs, are never called); MPL-2.0, its licence beside it.
MEDIABUNNY_VERSION = "1.61.0"
MEDIABUNNY_SHA256 = {
    "dist/bundles/mediabunny.min.mjs": "fa696c53494b6b09a8b310ec51e3c44a59e79513234fb832255a38c686162009",
    "LICENSE": "3f3d9e0024b1921b067d6f7f88deb4a60cbe7a78e76c64e3f1d7fc3b779b9d04",
}
MEDIABUNNY_SERVED = {
    "dist/bundles/mediabunny.min.mjs": "mediabunny.min.mjs",
    "LICENSE": "mediabunny-LICENSE.txt",
}
