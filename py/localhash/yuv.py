"""A yuv420p frame to RGB24 exactly as FFmpeg's libswscale converts it for vPDQ (x86 SIMD or plain C).

vpdq asks `sws_getContext(w, h, pix_fmt, w, h, AV_PIX_FMT_RGB24, SWS_AREA)` and never sets colour details
(ThreatExchange vpdq/cpp/vpdq/cpp/hashing/ffmpegwrapper.cpp), so swscale uses its defaults: BT.601
coefficients (`ff_yuv2rgb_coeffs[SWS_CS_DEFAULT]`), limited range unless the pixel format is a `yuvj` one
(`handle_jpeg`), contrast and saturation 1 << 16, brightness 0 (libswscale/utils.c, sws_init_context).
Same size and an even height make it the unscaled special converter (swscale_unscaled.c, "yuv2bgr"):
chroma is taken from sample (row >> 1, col >> 1), never interpolated. Its arithmetic depends on the CPU:

- "x86": FFmpeg's SSSE3 code (libswscale/x86/yuv_2_rgb.asm), what vpdq computes on any x86-64 machine
  (Linux servers, HMA): values shifted left by 3, offsets subtracted, multiplied with `pmulhw` (the high
  16 bits: a floor), summed, saturated to 0..255 by `packuswb`.
- "c": the portable C code (libswscale/yuv2rgb.c, yuv2rgb_c_24_rgb), what vpdq computes where no SIMD
  path exists for RGB24 (ARM: Apple silicon Macs, where Meta's older sample hashes were made): lookup
  tables built with 16.16 fixed point and rounding. It writes pixels in pairs, so an odd width's last
  column is never written; it is 0 here.

Both were checked pixel for pixel against Debian's libswscale 6.7.100 (FFmpeg 5.1), with and without
`av_force_cpu_flags(0)`, on random planes (tests/core/test_vpdq.py).
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import numpy as np

Swscale = Literal["x86", "c"]
SWSCALE_FLAVOURS: tuple[Swscale, ...] = ("x86", "c")

# libswscale/yuv2rgb.c ff_yuv2rgb_coeffs[SWS_CS_DEFAULT] (ITU-R BT.601): crv, cbu, cgu, cgv in 16.16.
BT601 = (104597, 132201, 25675, 53279)
# libswscale/swscale_internal.h
YUVRGB_TABLE_HEADROOM = 512
YUVRGB_TABLE_LUMA_HEADROOM = 512


def _cdiv(a: int, b: int) -> int:
    """C's integer division (truncates toward zero), for the int64 divisions of ff_yuv2rgb_c_init_tables."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _round_to_int16(f: int) -> int:
    """roundToInt16 (libswscale/yuv2rgb.c)."""
    r = (f + (1 << 15)) >> 16
    return max(-0x8000, min(0x7FFF, r))


@cache
def _coefficients(full_range: bool) -> tuple[int, int, int, int, int, int]:
    """cy, crv, cbu, cgu, cgv, oy as ff_yuv2rgb_c_init_tables computes them (contrast = saturation = 1 << 16)."""
    crv, cbu, cgu, cgv = BT601[0], BT601[1], -BT601[2], -BT601[3]
    cy, oy = 1 << 16, 0
    if not full_range:
        cy = _cdiv(cy * 255, 219)
        oy = 16 << 16
    else:
        crv, cbu, cgu, cgv = (_cdiv(x * 224, 255) for x in (crv, cbu, cgu, cgv))
    one = 1 << 16  # contrast and saturation
    cy = (cy * one) >> 16
    crv, cbu, cgu, cgv = ((x * one * one) >> 32 for x in (crv, cbu, cgu, cgv))
    return cy, crv, cbu, cgu, cgv, oy


@cache
def _x86_constants(full_range: bool) -> tuple[int, int, int, int, int, int, int]:
    """y_offset, u_offset, y, vr, ub, vg, ug coefficients the asm reads (SwsContext yOffset .. ugCoeff)."""
    cy, crv, cbu, cgu, cgv, oy = _coefficients(full_range)
    scale = 1 << 13
    return (
        _round_to_int16(oy * (1 << 3)),
        0x0400,  # uOffset = vOffset = 128 << 3
        _round_to_int16(cy * scale),
        _round_to_int16(crv * scale),
        _round_to_int16(cbu * scale),
        _round_to_int16(cgv * scale),
        _round_to_int16(cgu * scale),
    )


@cache
def _c_tables(full_range: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The C path's lookups, as indices into its luma table: y_table, and per chroma value 0..255 the offsets
    of table_rV, table_gU + (table_gV's part), table_bU relative to `y_table + yoffs` (fill_table,
    fill_gv_table), with the coefficients scaled by cy as ff_yuv2rgb_c_init_tables scales them."""
    cy, crv, cbu, cgu, cgv, oy = _coefficients(full_range)
    crv, cbu, cgu, cgv = (_cdiv((x * (1 << 16)) + 0x8000, max(cy, 1)) for x in (crv, cbu, cgu, cgv))
    table_plane_size = 1024 + 2 * YUVRGB_TABLE_LUMA_HEADROOM
    yb = -(384 << 16) - YUVRGB_TABLE_LUMA_HEADROOM * cy - oy + np.arange(table_plane_size, dtype=np.int64) * cy
    y_table = np.clip((yb + 0x8000) >> 16, 0, 255).astype(np.uint8)
    yoffs = (384 if full_range else 326) + YUVRGB_TABLE_LUMA_HEADROOM
    c = np.arange(256, dtype=np.int64)
    r_v = yoffs - (crv >> 9) + ((c * crv) >> 16)
    g_u = yoffs - (cgu >> 9) + ((c * cgu) >> 16)
    g_v = -(cgv >> 9) + ((c * cgv) >> 16)
    b_u = yoffs - (cbu >> 9) + ((c * cbu) >> 16)
    return y_table, r_v.astype(np.int32), g_u.astype(np.int32), g_v.astype(np.int32), b_u.astype(np.int32)


def chroma_rows(u: np.ndarray, rows: int, cols: int, first_row: int = 0) -> np.ndarray:
    """Chroma samples for luma rows first_row .. first_row + rows of a 4:2:0 frame `cols` wide: sample
    (row >> 1, col >> 1), as the unscaled converter reads them."""
    r = (np.arange(first_row, first_row + rows) >> 1)[:, None]
    c = (np.arange(cols) >> 1)[None, :]
    return u[r, c]


def i420_to_rgb(
    y: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    full_range: bool = False,
    swscale: Swscale = "x86",
    first_row: int = 0,
) -> np.ndarray:
    """RGB24 (rows, cols, 3) uint8 of luma rows `y` (rows, cols), whose first is row `first_row` of the frame
    (even, so strips can be converted one at a time), and the frame's whole chroma planes `u`, `v`
    ((rows + 1) // 2, (cols + 1) // 2 of the whole frame), uint8."""
    if swscale not in SWSCALE_FLAVOURS:
        raise ValueError(f"swscale must be one of {SWSCALE_FLAVOURS}, got {swscale!r}")
    rows, cols = y.shape
    u = chroma_rows(u, rows, cols, first_row)
    v = chroma_rows(v, rows, cols, first_row)
    rgb = np.empty((rows, cols, 3), np.uint8)
    if swscale == "x86":
        y_offset, uv_offset, y_coeff, vr, ub, vg, ug = _x86_constants(full_range)
        yy = ((y.astype(np.int32) << 3) - y_offset) * y_coeff >> 16
        uu = (u.astype(np.int32) << 3) - uv_offset
        vv = (v.astype(np.int32) << 3) - uv_offset
        # pmulhw keeps the high half of each signed 32-bit product: an arithmetic shift, a floor.
        np.clip(yy + (vv * vr >> 16), 0, 255, out=rgb[:, :, 0], casting="unsafe")
        np.clip(yy + ((uu * ug >> 16) + (vv * vg >> 16)), 0, 255, out=rgb[:, :, 1], casting="unsafe")
        np.clip(yy + (uu * ub >> 16), 0, 255, out=rgb[:, :, 2], casting="unsafe")
        return rgb
    y_table, r_v, g_u, g_v, b_u = _c_tables(full_range)
    yi = y.astype(np.int32)
    rgb[:, :, 0] = y_table[r_v[v] + yi]
    rgb[:, :, 1] = y_table[g_u[u] + g_v[v] + yi]
    rgb[:, :, 2] = y_table[b_u[u] + yi]
    if cols & 1:  # yuv2rgb_c_24_rgb writes pixel pairs: the last column of an odd width stays as allocated
        rgb[:, -1] = 0
    return rgb


@cache
def _x86_tables(full_range: bool) -> tuple[np.ndarray, ...]:
    """The x86 code's terms per 8-bit sample value, int16: luma's, then V's to red, U's and V's to green, U's to
    blue (each a pmulhw product, as i420_to_rgb computes them)."""
    y_offset, uv_offset, y_coeff, vr, ub, vg, ug = _x86_constants(full_range)
    x = np.arange(256, dtype=np.int32)
    chroma = (x << 3) - uv_offset
    terms = (((x << 3) - y_offset) * y_coeff >> 16, chroma * vr >> 16, chroma * ug >> 16, chroma * vg >> 16)
    return tuple(t.astype(np.int16) for t in (*terms, chroma * ub >> 16))


def x86_channels(y: np.ndarray, u: np.ndarray, v: np.ndarray, full_range: bool = False, first_row: int = 0):
    """i420_to_rgb(..., "x86")'s red, green and blue planes one after the other, each (rows, cols) int16 of
    0..255 in one buffer reused (so each is gone when the next comes), for luma rows `y` of even height and width
    whose first is row `first_row` (even): the same sums, with each chroma sample's terms taken from a table
    (computed once per chroma sample, not once per pixel) and added to its 2x2 luma samples."""
    rows, cols = y.shape
    if rows & 1 or cols & 1 or first_row & 1:
        raise ValueError("x86_channels takes an even number of rows and columns from an even row")
    luma_term, red_v, green_u, green_v, blue_u = _x86_tables(full_range)
    top = first_row >> 1
    u = u[top : top + rows // 2, : cols // 2]
    v = v[top : top + rows // 2, : cols // 2]
    base = luma_term[y].reshape(rows // 2, 2, cols)
    channel = np.empty_like(base)
    for term in (red_v[v], green_u[u] + green_v[v], blue_u[u]):
        # each chroma term doubled along its row, then added to both luma rows: numpy's loops then run along whole
        # rows (a broadcast over pairs of columns made them two samples long: as slow as the RGB array in wasm)
        np.add(base, term.repeat(2, axis=1)[:, None, :], out=channel)
        np.clip(channel, 0, 255, out=channel)  # packuswb's saturation
        yield channel.reshape(rows, cols)
