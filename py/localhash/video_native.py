"""vPDQ of a video file natively: PyAV (FFmpeg) decodes, the core (vpdq.py) keeps and hashes frames.

Optional (`pip install "localhash[video]"`): the core never imports this module, and the browser feeds its
own decoder's planes to vpdq.VpdqHasher. Opens and decodes as vpdq's FFmpegVideo and FFmpegHasher do
(ThreatExchange vpdq/cpp/vpdq/cpp/hashing/ffmpegwrapper.cpp, filehasher.cpp): the first video stream, its
codec parameters' size, its average frame rate (the base rate when that is unknown), every frame the
decoder outputs counted, the decoder flushed at the end, a decoding error fails the whole video.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import numpy as np

from .errors import CORRUPT_VIDEO, LocalhashError
from .vpdq import SECONDS_PER_HASH, VpdqFeature, VpdqHasher
from .yuv import Swscale

try:
    import av
except ImportError:  # the `video` extra is not installed: videos get MD5 and SHA-256 only
    av = None

# The formats FFmpeg's unscaled yuv420p converter takes as they are (yuvj420p is yuv420p in full range,
# libswscale/utils.c handle_jpeg); any other is first converted to yuv420p by PyAV's swscale, which vpdq
# does not do (it converts straight to RGB24): those videos are near, not bit-exact (README, "vPDQ").
I420_FORMATS = {"yuv420p": False, "yuvj420p": True}


def available() -> bool:
    """Whether PyAV is installed, so that videos get a vPDQ."""
    return av is not None


def _planes(frame, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The frame's yuv420p planes as (rows, line size) views of its buffers, converted when they are not."""
    if frame.format.name not in I420_FORMATS or (frame.width, frame.height) != (width, height):
        frame = frame.reformat(width=width, height=height, format="yuv420p")
    planes = []
    for plane, rows in zip(frame.planes, (height, (height + 1) // 2, (height + 1) // 2), strict=False):
        planes.append(np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:rows])
    return planes[0], planes[1], planes[2]


def _frames(container, stream) -> Iterator:
    for packet in container.demux(stream):  # ends with an empty packet, which flushes the decoder
        yield from packet.decode()


def vpdq_of_file(path: str, swscale: Swscale = "x86", seconds_per_hash: float = SECONDS_PER_HASH) -> list[VpdqFeature]:
    """vPDQ of the video at `path`, as PyPI `vpdq` computes it. Raises LocalhashError(corrupt_video) when the
    file has no decodable video stream or its decoding fails."""
    if av is None:
        raise RuntimeError('vPDQ of a file needs PyAV: pip install "localhash[video]"')
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise LocalhashError(CORRUPT_VIDEO, "no video stream")
            stream = container.streams.video[0]
            context = stream.codec_context
            width, height = context.width, context.height
            rate = stream.average_rate or stream.base_rate
            if not width or not height or not rate:
                raise LocalhashError(CORRUPT_VIDEO, "the video stream has no size or no frame rate")
            context.thread_type = "AUTO"
            full_range = I420_FORMATS.get(context.pix_fmt or "", False)
            hasher = VpdqHasher(Fraction(rate), width, height, full_range, swscale, seconds_per_hash)
            for frame in _frames(container, stream):
                if hasher.wants_next():
                    hasher.push(*_planes(frame, width, height))
                else:
                    hasher.decoded += 1
            return hasher.features
    except av.error.FFmpegError as exc:
        raise LocalhashError(CORRUPT_VIDEO, f"the video cannot be decoded: {exc.strerror or exc}") from None
