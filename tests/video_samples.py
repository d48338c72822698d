"""Edge-case videos made at test time with Debian's ffmpeg (the FFmpeg PyPI `vpdq` links), for tests/core/test_vpdq.py.

Each is a few seconds of FFmpeg's testsrc2 pattern, small enough to hash in well under a second.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

FFMPEG = "/usr/bin/ffmpeg"
PATTERN = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate={rate}", "-t", "{seconds}"]
H264 = ["-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast"]
VP9 = ["-pix_fmt", "yuv420p", "-c:v", "libvpx-vp9", "-b:v", "300k", "-deadline", "realtime", "-cpu-used", "8"]

# name: (frame rate, seconds, ffmpeg output options, file suffix)
SAMPLES: dict[str, tuple[str, int, list[str], str]] = {
    "ntsc_29.97fps": ("30000/1001", 5, H264, ".mp4"),
    "vp9_webm": ("24", 4, VP9, ".webm"),
    "odd_width_vp9": ("25", 3, ["-vf", "scale=321:240", *VP9], ".webm"),
    "full_range_yuvj420p": ("25", 3, ["-pix_fmt", "yuvj420p", "-c:v", "libx264", "-preset", "veryfast"], ".mp4"),
    "bt709_tagged": (
        "25",
        3,
        [*H264, "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"],
        ".mp4",
    ),
    # frames 0-59 at 30 fps, then one every 1/12 s: variable frame rate, average and base rates disagree
    "vfr": ("30", 6, ["-vf", "setpts='if(lt(N,60),N/30,2+(N-60)/12)/TB'", "-fps_mode", "vfr", *H264], ".mp4"),
    "av1": ("25", 3, ["-pix_fmt", "yuv420p", "-c:v", "libaom-av1", "-cpu-used", "8", "-b:v", "200k"], ".mp4"),
    "long_gop_3fps": ("3", 8, H264, ".mp4"),
}
# Made from another sample rather than from the pattern.
ODD_HEIGHT = ("25", 3, ["-vf", "scale=320:241", *VP9], ".webm")


def _run(args: list[str]) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def _rotate_90(path: Path) -> None:
    """Write a 90-degree display matrix into the first tkhd box (ISO 14496-12 8.3.2), as a phone does."""
    data = bytearray(path.read_bytes())
    at = data.index(b"tkhd") - 4
    version = data[at + 8]
    matrix = at + 8 + 4 + (32 if version == 1 else 20) + 8 + 8
    data[matrix : matrix + 36] = struct.pack(">9i", 0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30)
    path.write_bytes(bytes(data))


def make_video_samples(folder: Path) -> dict[str, Path]:
    """Every sample, by name."""
    if not shutil.which(FFMPEG):
        raise RuntimeError(f"{FFMPEG} is missing: `python3 build.py test` installs Debian's ffmpeg")
    made = {}
    for name, (rate, seconds, options, suffix) in SAMPLES.items():
        made[name] = folder / f"{name}{suffix}"
        source = [a.format(rate=rate, seconds=seconds) for a in PATTERN]
        _run([*source, *options, str(made[name])])
    # an edit list: the first 1.5 s of the 29.97 fps file cut by `-ss` without re-encoding
    made["edit_list"] = folder / "edit_list.mp4"
    _run(["-ss", "1.5", "-i", str(made["ntsc_29.97fps"]), "-c", "copy", str(made["edit_list"])])
    made["rotated_90"] = folder / "rotated_90.mp4"
    shutil.copy(made["ntsc_29.97fps"], made["rotated_90"])
    _rotate_90(made["rotated_90"])
    made["odd_height_vp9"] = folder / "odd_height_vp9.webm"
    rate, seconds, options, _ = ODD_HEIGHT
    _run([*[a.format(rate=rate, seconds=seconds) for a in PATTERN], *options, str(made["odd_height_vp9"])])
    return made
