"""Ship what runs, nothing else; stored, not deflated, so the host's brotli or gzip sees the bytes.

Every archive the browser downloads (the standard library, numpy, Pillow, localhash) is written
here from its compiled copy (site_build/bytecode.py), without the members listed for removal:
- the standard library keeps only the modules the site imports (site_build/trace.py runs the
  real site over every kind of file) and the reviewed lazy imports in STDLIB_KEPT;
- numpy and Pillow lose what localhash never imports (WHEEL_REMOVALS). A rule that would remove a
  module the trace saw imported stops the build: the trace overrules the list.
Members are named as in the official archive (x.py, not its bytecode x.pyc), so an auditor can
re-derive a file: take the official archive (sha256 in the manifest), delete the listed members,
compile as site_build/bytecode.py does, store. Nothing is added; a wheel's RECORD loses the lines
of what was removed.
"""

from __future__ import annotations

import fnmatch
import zipfile
from pathlib import Path, PurePosixPath

from .pyodide_assets import AssetError

# Where Pyodide 0.27.7 puts these at run time (module __file__ values in the trace).
STDLIB_RUNTIME = "/lib/python312.zip/"
SITE_PACKAGES_RUNTIME = "/lib/python3.12/site-packages/"

# Standard library modules kept although no sample may reach them: lazy imports on paths the trace
# cannot take. The trace imports each at its end (trace_imports.mjs), so what they import is kept too,
# and a name that does not exist fails the build. Reviewed by hand; keep it short.
STDLIB_KEPT = {
    "traceback": "formats a Python exception that reaches JavaScript (traced too, from one deliberate error)",
    "linecache": "traceback and warnings read source lines through it",
    "tokenize": "linecache opens source files with it",
    "encodings.utf_8_sig": "a few KB each: text decoded by a codec name Python has no fast path for",
    "encodings.latin_1": "(Python decodes 'utf-8', 'latin-1' and 'ascii' without looking them up;",
    "encodings.ascii": "spelt otherwise, or UTF-16 text in EXIF, they are looked up)",
    "encodings.utf_16": "",
    "encodings.utf_16_le": "",
    "encodings.utf_16_be": "",
    "encodings.cp437": "zipfile's name for members without the UTF-8 flag, as Pyodide unpacks the wheels",
}

# Removed from the wheels, as fnmatch patterns over member names ('*' crosses '/').
# numpy._core._multiarray_tests stays although its name says test: numpy attaches docstrings to
# its functions when numpy is imported. numpy.linalg stays: numpy imports it.
WHEEL_REMOVALS = {
    "numpy": (
        "numpy/random/*",
        "numpy/fft/*",
        "numpy/polynomial/*",
        "numpy/f2py/*",
        "numpy/testing/*",
        "numpy/typing/*",  # the mypy plugin; numpy._typing, which numpy imports, stays
        "numpy/_pyinstaller/*",
        "numpy/doc/*",
        "numpy/ma/*",  # masked arrays (localhash.imagehash_compat says why np.median is written out)
        "numpy/matlib.py",
        "numpy/ctypeslib.py",
        "numpy/compat/*",
        "numpy/lib/recfunctions.py",
        "numpy/lib/_user_array_impl.py",
        "numpy/lib/user_array.py",
        "numpy/char/*",  # numpy.char and numpy.strings: string arrays
        "numpy/strings/*",
        "numpy/_core/strings.py",
        "numpy/_core/defchararray.py",
        "numpy/linalg/lapack_lite.*",  # numpy.linalg uses _umath_linalg; lapack_lite is imported by nothing
        "numpy/_core/include/*",  # C headers
        "numpy/_core/lib/*",  # static libraries and pkg-config files
        "numpy/_core/_umath_tests.*.so",  # numpy's own test modules, never imported
        "numpy/_core/_rational_tests.*.so",
        "numpy/_core/_struct_ufunc_tests.*.so",
        "numpy/_core/_operand_flag_tests.*.so",
        "numpy/_core/_simd.*.so",
        "*.pyi",  # type stubs
        "*.pxd",  # Cython declarations
        "*/py.typed",
    ),
    "pillow": (
        # fonts and drawing
        "PIL/_imagingft.*",
        "PIL/ImageFont.py",
        "PIL/FontFile.py",
        "PIL/BdfFontFile.py",
        "PIL/PcfFontFile.py",
        "PIL/ImageDraw.py",
        "PIL/ImageDraw2.py",
        "PIL/PSDraw.py",
        # PDF
        "PIL/PdfImagePlugin.py",
        "PIL/PdfParser.py",
        # screens and toolkits. ImageCms stays although Pyodide's Pillow has no lcms: converting a LAB
        # picture imports it, and its ImportError is what makes that file unsupported_format.
        "PIL/_imagingtk.*",
        "PIL/_tkinter_finder.py",
        "PIL/ImageTk.py",
        "PIL/ImageQt.py",
        "PIL/ImageShow.py",
        "PIL/ImageGrab.py",
        "PIL/ImageWin.py",
        "PIL/_imagingcms.pyi",
        # image processing localhash does not do
        "PIL/_imagingmorph.*",
        "PIL/ImageMorph.py",
        "PIL/ImageEnhance.py",
        "PIL/ImageStat.py",
        "PIL/ImageTransform.py",
        # formats localhash never opens (decode.ALLOWED_FORMATS; Pillow imports these plugins
        # only inside a try that expects them to be missing)
        *(
            f"PIL/{name}.py"
            for name in (
                "BlpImagePlugin BufrStubImagePlugin CurImagePlugin DcxImagePlugin DdsImagePlugin EpsImagePlugin "
                "FitsImagePlugin FliImagePlugin FpxImagePlugin FtexImagePlugin GbrImagePlugin GdImageFile "
                "GribStubImagePlugin Hdf5StubImagePlugin IcnsImagePlugin IcoImagePlugin ImImagePlugin "
                "ImtImagePlugin IptcImagePlugin Jpeg2KImagePlugin McIdasImagePlugin MicImagePlugin "
                "MpegImagePlugin MspImagePlugin PalmImagePlugin PcdImagePlugin PcxImagePlugin "
                "PixarImagePlugin PsdImagePlugin QoiImagePlugin SgiImagePlugin SpiderImagePlugin "
                "SunImagePlugin TgaImagePlugin WalImageFile WmfImagePlugin XVThumbImagePlugin "
                "XbmImagePlugin XpmImagePlugin ContainerIO TarIO"
            ).split()
        ),
        "PIL/__main__.py",
        "PIL/features.py",
        "*.pyi",
    ),
    # What runs only natively: the command line, and decoding video with PyAV (the browser's decoder is
    # WebCodecs, video_browser.py). Sources and their bytecode.
    "localhash": tuple(
        pattern
        for module in ("__main__", "cli", "video_native")
        for pattern in (f"localhash/{module}.py", f"localhash/__pycache__/{module}.cpython-*.pyc")
    ),
}


def official_name(compiled_name: str, official_names: set[str]) -> str:
    """The official archive's member that a compiled member came from (x.pyc <- x.py)."""
    if compiled_name.endswith(".pyc") and compiled_name[:-1] in official_names:
        return compiled_name[:-1]
    return compiled_name


def _runtime_members(modules: dict[str, str | None], prefix: str) -> set[str]:
    return {file[len(prefix) :] for file in modules.values() if file and file.startswith(prefix)}


def stdlib_removals(official_names: set[str], modules: dict[str, str | None]) -> list[str]:
    """The standard library members (official names) the site never imports."""
    kept = {official_name(m, official_names) for m in _runtime_members(modules, STDLIB_RUNTIME)}
    for module in STDLIB_KEPT:
        path = module.replace(".", "/")
        kept |= {name for name in (f"{path}.py", f"{path}/__init__.py") if name in official_names}
    folders = {str(parent) + "/" for name in kept for parent in PurePosixPath(name).parents if str(parent) != "."}
    return sorted(name for name in official_names if name not in kept and name not in folders)


def wheel_removals(package: str, official_names: set[str], modules: dict[str, str | None]) -> list[str]:
    """The wheel members (official names) WHEEL_REMOVALS removes; AssetError if the site imports one."""
    patterns = WHEEL_REMOVALS.get(package, ())
    removed = sorted(n for n in official_names if any(fnmatch.fnmatchcase(n, p) for p in patterns))
    imported = {official_name(m, official_names) for m in _runtime_members(modules, SITE_PACKAGES_RUNTIME)}
    conflict = sorted(imported.intersection(removed))
    if conflict:
        raise AssetError(f"{package}: the site imports {', '.join(conflict)}, which site_build/trim.py removes")
    return removed


def store(compiled: Path, dst: Path, removed: list[str], official_names: set[str]) -> None:
    """Write `compiled` to `dst` without the members named in `removed` (official names), every
    member stored uncompressed, entries and their metadata otherwise as they were."""
    gone = set(removed)
    with zipfile.ZipFile(compiled) as archive:
        entries = [
            (info, archive.read(info))
            for info in archive.infolist()
            if official_name(info.filename, official_names) not in gone
        ]
    kept = {info.filename for info, _ in entries}
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as out:
        for info, data in entries:
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines(keepends=True)
                data = "".join(line for line in lines if line.split(",", 1)[0] in kept).encode()
            stored = zipfile.ZipInfo(info.filename, info.date_time)
            stored.external_attr = info.external_attr
            stored.compress_type = zipfile.ZIP_STORED
            out.writestr(stored, data)


def members(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as archive:
        return set(archive.namelist())
