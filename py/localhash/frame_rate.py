"""FFmpeg's average frame rate of a WebM/Matroska or fragmented MP4 video stream, from what the worker demuxes.

vpdq keeps a frame every trunc(avg_frame_rate) frames and times it by that rate, so the browser must hand
VideoFrames the rate FFmpeg's demuxer sets (video_browser.mov_frame_rate does it for an MP4's `stts`).
"""

from __future__ import annotations

from fractions import Fraction

# libavformat/matroskadec.c mkv_parse_video_codec/matroska_parse_tracks: avg_frame_rate is 1e9 / DefaultDuration
# (nanoseconds), reduced by av_reduce to terms of at most 30000.
MATROSKA_RATE_MAX = 30000


def av_reduce(num: int, den: int, limit: int) -> tuple[int, int]:
    """libavutil/rational.c av_reduce for non-negative terms: num/den itself when both fit under `limit`, else
    the continued-fraction convergent (or the semiconvergent nearer to it) whose terms fit."""
    a0n, a0d, a1n, a1d = 0, 1, 1, 0
    if num == 0 or den == 0:
        return (0, 1) if den else (1 if num else 0, 0)
    fraction = Fraction(num, den)
    num, den = fraction.numerator, fraction.denominator
    if num <= limit and den <= limit:
        return num, den
    while den:
        x = num // den
        next_den = num - den * x
        a2n, a2d = x * a1n + a0n, x * a1d + a0d
        if a2n > limit or a2d > limit:
            if a1n:
                x = (limit - a0n) // a1n
            if a1d:
                x = min(x, (limit - a0d) // a1d)
            if den * (2 * x * a1d + a0d) > num * a1d:
                a1n, a1d = x * a1n + a0n, x * a1d + a0d
            break
        a0n, a0d, a1n, a1d = a1n, a1d, a2n, a2d
        num, den = den, next_den
    return a1n, a1d


def matroska_frame_rate(default_duration: int, frame_rate: float = 0.0) -> tuple[int, int]:
    """FFmpeg's avg_frame_rate of a Matroska/WebM video track: from its DefaultDuration (ns), or, without one,
    from its (deprecated) FrameRate element as 1e9 / FrameRate truncated to whole ns. (0, 1) with neither: FFmpeg
    then guesses the rate from the packets it probes (avformat_find_stream_info), which is not reproduced."""
    duration = int(default_duration or 0)
    if duration <= 0 and frame_rate and float(frame_rate) > 0:
        duration = int(1_000_000_000 / float(frame_rate))
    if duration <= 0:
        return 0, 1
    return av_reduce(1_000_000_000, duration, MATROSKA_RATE_MAX)


def fragmented_mov_frame_rate(samples: int, duration: int, timescale: int) -> tuple[int, int]:
    """FFmpeg's avg_frame_rate of a fragmented MP4 track (libavformat/mov.c mov_read_trun, mov_read_header): every
    sample of every fragment x timescale / the sum of their durations, in the track's timescale. (0, 1) when the
    duration is 0."""
    samples, duration = int(samples), int(duration)
    if samples <= 0 or duration <= 0:
        return 0, 1
    rate = Fraction(int(timescale) * samples, duration)
    return rate.numerator, rate.denominator
