"""The system's libswscale (Debian's FFmpeg 5.1, the one PyPI `vpdq` links) through ctypes: yuv420p to RGB24 as
vpdq asks for it (same size, SWS_AREA), with the CPU's SIMD code or, after av_force_cpu_flags(0), plain C."""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

SWS_AREA = 0x20  # libswscale/swscale.h; vpdq's DOWNSAMPLE_METHOD


def _load(name: str, version: str) -> ctypes.CDLL:
    try:
        return ctypes.CDLL(f"lib{name}.so.{version}")
    except OSError as exc:
        raise RuntimeError(
            f"lib{name}.so.{version} is missing: `python3 build.py test` installs Debian's ffmpeg"
        ) from exc


_avutil = _load("avutil", "57")
_swscale = _load("swscale", "6")
_avutil.av_get_pix_fmt.restype = ctypes.c_int
_avutil.av_get_pix_fmt.argtypes = [ctypes.c_char_p]
_avutil.av_force_cpu_flags.argtypes = [ctypes.c_int]
_swscale.sws_getContext.restype = ctypes.c_void_p
_swscale.sws_getContext.argtypes = [ctypes.c_int] * 7 + [ctypes.c_void_p] * 3
_pointers, _ints = ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_int)
_swscale.sws_scale.argtypes = [ctypes.c_void_p, _pointers, _ints, ctypes.c_int, ctypes.c_int, _pointers, _ints]
_swscale.sws_freeContext.argtypes = [ctypes.c_void_p]
_avutil.av_log_set_level.argtypes = [ctypes.c_int]
_avutil.av_log_set_level(8)  # AV_LOG_FATAL: no "No accelerated colorspace conversion" chatter


def swscale_rgb24(y: np.ndarray, u: np.ndarray, v: np.ndarray, full_range: bool, simd: bool) -> np.ndarray:
    """RGB24 (rows, cols, 3) of one yuv420p (or yuvj420p) frame, as sws_scale makes it."""
    rows, cols = y.shape
    _avutil.av_force_cpu_flags(-1 if simd else 0)
    try:
        source = _avutil.av_get_pix_fmt(b"yuvj420p" if full_range else b"yuv420p")
        context = _swscale.sws_getContext(
            cols, rows, source, cols, rows, _avutil.av_get_pix_fmt(b"rgb24"), SWS_AREA, None, None, None
        )
        # planes with a decoder's padding (the SIMD code reads up to 8 pixels past the width)
        planes = []
        for plane in (y, u, v):
            padded = np.zeros((plane.shape[0] + 2, plane.shape[1] + 64), np.uint8)
            padded[: plane.shape[0], : plane.shape[1]] = plane
            planes.append(padded)
        stride = (cols * 3 + 31) // 32 * 32 + 64
        out = np.zeros((rows + 2, stride), np.uint8)
        _swscale.sws_scale(
            context,
            (ctypes.c_void_p * 4)(*[p.ctypes.data for p in planes], None),
            (ctypes.c_int * 4)(*[p.strides[0] for p in planes], 0),
            0,
            rows,
            (ctypes.c_void_p * 4)(out.ctypes.data, None, None, None),
            (ctypes.c_int * 4)(stride, 0, 0, 0),
        )
        _swscale.sws_freeContext(context)
    finally:
        _avutil.av_force_cpu_flags(-1)
    return out[:rows, : cols * 3].reshape(rows, cols, 3).copy()
