"""Meta's Jarosz box filter and 64x64 decimation, float32 for float32 with the reference, on a luma
plane that arrives in strips of rows, so that no picture is ever held whole as floats.

The reference (ThreatExchange pdq/cpp/downscaling/downscaling.cpp, `box1DFloat`) keeps a running
float32 sum along a line: add the entering pixel, subtract the leaving one, divide by the window.
Rounding happens at every step, so a "better" prefix-sum filter lands a few ulps away and, on
some images, flips a hash bit or the quality by one. We replay the same float32 operations in
the same order: a Python loop walks along the filtered axis and does each add and subtract for
all the lines at once with numpy, which is exactly the reference's per-line arithmetic (float32
addition is the same operation in a SIMD lane as in a scalar loop); the divisions follow, all at
once. Planes only a few lines wide run the same additions through one np.add.accumulate instead.

Passes along rows filter each strip's rows on their own. Passes down the columns cross strips:
the running sums and the rows the window still reads are carried from one strip to the next.
A 200 MP photo would need 800 MB per float plane; a strip of 8 million pixels needs 32 MB.
The last two passes are only evaluated where the 64x64 decimation samples them.

Many small planes (a picture's re-framed and turned copies, variants.py) are filtered together by
`filter_and_decimate_many`: their lines share the Python loop, and rows they share are filtered once.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain, repeat

import numpy as np

OUT_DIM = 64  # PDQ decimates to 64x64 (pdqhashing.cpp)


def window_size(old_dim: int, new_dim: int = OUT_DIM) -> int:
    """`computeJaroszFilterWindowSize`: ceil(old / (2 * new)) as the reference spells it."""
    return (old_dim + 2 * new_dim - 1) // (2 * new_dim)


def sample_indices(length: int) -> np.ndarray:
    """`decimateFloat`: (int)(((i + 0.5) * length) / 64), computed in double as the reference."""
    return ((np.arange(OUT_DIM) + 0.5) * length / OUT_DIM).astype(np.intp)


def transpose(a: np.ndarray, tile: int = 256) -> np.ndarray:
    """A contiguous transposed copy, tile by tile: 3-4x faster than one big strided copy
    because each tile stays in cache."""
    return transpose_into(np.empty(a.shape[::-1], a.dtype), a, tile)


def transpose_into(out: np.ndarray, a: np.ndarray, tile: int = 256) -> np.ndarray:
    """Write `a` transposed into `out` (any view of shape a.shape[::-1]), tile by tile; returns `out`."""
    rows, cols = a.shape
    for i in range(0, rows, tile):
        for j in range(0, cols, tile):
            out[j : j + tile, i : i + tile] = a[i : i + tile, j : j + tile].T
    return out


# Planes at most this wide are filtered by RunningBox._accumulate, this many outputs at a time (a few MB of terms).
# Measured in Pyodide under node (2026-12-02): a 720p frame's last pass (720 steps, 64 wide) took 6.7 ms by numpy
# calls per step and 1.2 ms so; at 300 wide the two are about even, natively at about 100.
NARROW = 128
NARROW_CHUNK = 4096


class RunningBox:
    """box1DFloat down axis 0 of a plane whose rows arrive a few at a time, in order, for every
    column at once: one vector operation per reference step, the running sums carried across pushes.

    `wanted` (sorted) are the outputs asked for; images under 64 px sample some outputs twice.

    The loop costs two numpy calls per step of the slide (add the entering row, subtract the leaving one)
    and iterates rows as slices do: in wasm a call's overhead outweighs the arithmetic of a 1000-sample row,
    so a pass that wants every output writes each step's sum straight into the output and divides them all
    by their window sizes in one call at the end (the same float32 divisions: a 720p frame's first pass took
    22 ms in Pyodide under node, now 10).
    """

    def __init__(self, length: int, window: int, width: int, wanted: np.ndarray | None = None) -> None:
        half = (window + 2) // 2  # 7 -> 4, 8 -> 5, as box1DFloat
        # the reference's phases: the window's first half is summed (p1), grows (p2), slides (p3), shrinks
        self.p1, self.p2, self.p3 = half - 1, window - half + 1, length - window
        self.length, self.window = length, window
        self.every = wanted is None
        self.copies = np.bincount(np.arange(length) if wanted is None else wanted, minlength=length)
        self.running = np.zeros(width, np.float32)
        self._scratch = np.empty(width, np.float32)
        self.next = 0  # the next output
        self.received = 0  # rows pushed so far
        self.held: list[tuple[int, np.ndarray]] = []  # (first row, rows) pushed, still to be read

    def sizes(self, first: int, stop: int) -> np.ndarray:
        """The window sizes outputs first .. stop - 1 are divided by, as the reference counts them."""
        o = np.arange(first, stop)
        grown = np.minimum(self.p1 + o + 1, self.window)
        return (grown - np.maximum(0, o - (self.p2 + self.p3) + 1)).astype(np.float32)

    def _pieces(self, start: int, stop: int) -> list[np.ndarray]:
        """The plane's rows start .. stop - 1 as slices of the pushes still held, in order."""
        return [
            rows[max(start, first) - first : min(stop, first + len(rows)) - first]
            for first, rows in self.held
            if first < stop and first + len(rows) > start
        ]

    def _rows(self, start: int, stop: int) -> Iterator[np.ndarray]:
        """The plane's rows start .. stop - 1, one at a time."""
        return chain.from_iterable(self._pieces(start, stop))

    def _slide(self, first: int, stop: int, sums: np.ndarray | None) -> None:
        """The reference's steps for outputs first .. stop - 1. With `sums`, each step's running sum goes into its
        row of `sums` and `running` ends as the last; without, `running` is updated in place."""
        p1, p2, end3, window = self.p1, self.p2, self.p2 + self.p3, self.window
        add, subtract = np.add, np.subtract
        running, scratch = self.running, self._scratch
        outs = iter(sums) if sums is not None else repeat(running)  # endless in place: zip stops with the rows
        if first < p2:  # phase 2: the window grows
            top = min(stop, p2)
            for entering, out in zip(self._rows(p1 + first, p1 + top), outs, strict=False):
                add(running, entering, out)
                running = out
            first = top
        if first < stop and first < end3:  # phase 3: the full window slides
            top = min(stop, end3)
            entering_rows = self._rows(window + first - p2, window + top - p2)
            for entering, leaving, out in zip(entering_rows, self._rows(first - p2, top - p2), outs, strict=False):
                add(running, entering, scratch)
                subtract(scratch, leaving, out)
                running = out
            first = top
        if first < stop:  # phase 4: the window shrinks
            for leaving, out in zip(self._rows(first - p2, stop - p2), outs, strict=False):
                subtract(running, leaving, out)
                running = out
        if running is not self.running:
            self.running[...] = running

    def _block(self, start: int, stop: int) -> np.ndarray:
        """The plane's rows start .. stop - 1 (at least one) as one array."""
        pieces = self._pieces(start, stop)
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def _accumulate(self, first: int, stop: int) -> np.ndarray:
        """The running sums after the steps of outputs first .. stop - 1, (stop - first, width), and `running` the
        last: the same float32 additions in the same order by one `np.add.accumulate` down a column of terms
        (the running sum, then each step's entering row and leaving row negated: x - y is x + -y exactly). Its
        loop is C's, but sequential along each line; for a narrow plane that beats two numpy calls per step."""
        p1, p2, end3, window = self.p1, self.p2, self.p2 + self.p3, self.window
        grow = range(first, min(stop, p2))
        slide = range(max(first, p2), min(stop, end3))
        shrink = range(max(first, end3), stop)
        terms = np.empty((1 + len(grow) + 2 * len(slide) + len(shrink), len(self.running)), np.float32)
        terms[0] = self.running
        at = 1
        if grow:
            terms[at : at + len(grow)] = self._block(p1 + grow.start, p1 + grow.stop)
            at += len(grow)
        if slide:
            pairs = terms[at : at + 2 * len(slide)].reshape(len(slide), 2, -1)
            pairs[:, 0] = self._block(window + slide.start - p2, window + slide.stop - p2)
            np.negative(self._block(slide.start - p2, slide.stop - p2), out=pairs[:, 1])
            at += 2 * len(slide)
        if shrink:
            np.negative(self._block(shrink.start - p2, shrink.stop - p2), out=terms[at:])
        np.add.accumulate(terms, axis=0, out=terms)
        steps = np.concatenate([np.ones(len(grow), np.intp), np.full(len(slide), 2), np.ones(len(shrink), np.intp)])
        sums = terms[np.cumsum(steps)]
        if len(sums):
            self.running[...] = sums[-1]
        return sums

    def push(self, rows: np.ndarray) -> np.ndarray:
        """Take the plane's next rows; return the wanted outputs they complete, (n, width)."""
        self.held.append((self.received, rows))
        self.received += len(rows)
        # Output o reads rows up to p1 + o: these outputs can be computed now.
        last = self.length - 1 if self.received == self.length else min(self.length - 1, self.received - 1 - self.p1)
        first = self.next
        stop = max(first, last + 1)  # a push too short to complete an output completes none
        out = np.empty((int(self.copies[first:stop].sum()),) + self.running.shape, np.float32)
        if first == 0 and stop > 0:
            for row in self._rows(0, self.p1):
                self.running += row
        if len(self.running) <= NARROW:
            k = 0
            for at in range(first, stop, NARROW_CHUNK):
                top = min(stop, at + NARROW_CHUNK)
                picked = np.repeat(np.arange(at, top), self.copies[at:top])
                sums = self._accumulate(at, top)[picked - at]
                np.divide(sums, self.sizes(at, top)[picked - at][:, None], out=out[k : k + len(picked)])
                k += len(picked)
        elif self.every and stop > first:
            self._slide(first, stop, out)
            np.divide(out, self.sizes(first, stop)[:, None], out=out)
        elif stop > first:
            k = 0
            at = first
            sizes = self.sizes(0, self.length)
            for o in np.flatnonzero(self.copies[first:stop]) + first:
                self._slide(at, o + 1, None)
                at = o + 1
                for _ in range(self.copies[o]):
                    np.divide(self.running, sizes[o], out=out[k])
                    k += 1
            self._slide(at, stop, None)
        self.next = max(self.next, stop)
        # Later outputs read rows from next - p2 on (the next leaving row): earlier pushes can go.
        keep = self.next - self.p2
        # Copies of the few rows still read (a window's worth), so that a whole strip is not kept alive.
        self.held = [
            (max(first, keep), rows[max(0, keep - first) :].copy() if keep > first else rows)
            for first, rows in self.held
            if first + len(rows) > keep
        ]
        return out


class BoxAcrossRows:
    """box1DFloat along every row of a strip: the strip is turned (a tiled transpose) so that the
    filter runs down axis 0, each strip on its own (rows are independent)."""

    def __init__(self, length: int, window: int, wanted: np.ndarray | None = None) -> None:
        self.length, self.window, self.wanted = length, window, wanted

    def push(self, rows: np.ndarray) -> np.ndarray:
        box = RunningBox(self.length, self.window, len(rows), self.wanted)
        turned = box.push(transpose(rows))
        del box  # and with it the turned input: one plane fewer while the output turns back
        return transpose(turned)


class JaroszStream:
    """PDQ's two Jarosz passes (rows, columns, rows, columns) and 64x64 decimation of a float32 luma
    plane (rows, cols) fed as strips of rows from the top, as `jaroszFilterFloat` + `decimateFloat`.

    `transposed`: hash the plane turned on its side, the picture whose rows are the plane's columns
    (an EXIF-rotated photo as a viewer shows it), without turning a pixel: the same passes, down the
    plane's columns first. The last two passes compute only what the decimation samples.
    """

    def __init__(self, rows: int, cols: int, transposed: bool = False) -> None:
        along_rows, down_cols = window_size(cols), window_size(rows)
        first_across = BoxAcrossRows(cols, along_rows)
        first_down = RunningBox(rows, down_cols, cols)
        last_across = BoxAcrossRows(cols, along_rows, sample_indices(cols))
        if not transposed:
            last_down = RunningBox(rows, down_cols, OUT_DIM, sample_indices(rows))
            self.stages = [first_across, first_down, last_across, last_down]
        else:
            last_down = RunningBox(rows, down_cols, cols, sample_indices(rows))
            self.stages = [first_down, first_across, last_down, last_across]
        self.transposed = transposed
        self.decimated: list[np.ndarray] = []

    def feed(self, luma: np.ndarray) -> None:
        """The plane's next rows, (n, cols) float32."""
        for _ in self.feed_steps(luma):
            pass

    def feed_steps(self, luma: np.ndarray) -> Iterator[None]:
        """feed, one pass at a time: yields after each pass, so that a caller can do other work in between (the
        browser's worker lets its video decoder run). The same operations in the same order as feed."""
        for stage in self.stages:
            luma = stage.push(luma)
            if not len(luma):
                return
            yield
        self.decimated.append(luma)

    def block(self) -> np.ndarray:
        """The 64x64 float32 block PDQ's DCT takes, once every row has been fed."""
        block = np.concatenate(self.decimated)
        if block.shape != (OUT_DIM, OUT_DIM):
            raise ValueError(f"the plane was not fed whole ({block.shape[0]} of {OUT_DIM} sample rows)")
        return np.ascontiguousarray(block.T if self.transposed else block)


def filter_and_decimate(luma: np.ndarray) -> np.ndarray:
    """JaroszStream of a whole luma plane (rows, cols) at once."""
    stream = JaroszStream(*luma.shape)
    stream.feed(luma)
    return stream.block()


# Pixels of planes that share one batch of filter_and_decimate_many (16 MB of float32 per pass buffer), as
# many as a full-size PDQ's strip (pdq.STRIP_PIXELS). Measured on a 12 MP photo's 19 copies (tracemalloc,
# 2026-12-01): a peak of 42-53 MB, the full-size PDQ's 49; batches of 8 MP would be 10-20 % faster at
# 69-78 MB, which the browser's wasm heap would keep.
BATCH_PIXELS = 1 << 22


def filter_and_decimate_many(
    planes: list[np.ndarray | list[np.ndarray]], batch_pixels: int = BATCH_PIXELS
) -> list[np.ndarray]:
    """filter_and_decimate of each luma plane, bit for bit, for many small planes at once. A plane is an
    array (rows, cols) or a list of such bands of equal cols, stacked top to bottom.

    A pass treats every line on its own, so the lines of several planes that share the pass's length
    (and so its window and phases) go side by side through one RunningBox: each float32 element sees the
    same operations in the same order, while the Python loop along the line runs once for them all
    instead of once per plane. The first pass, along the rows, filters rows that are the same memory only
    once (a band given in several planes, turned upside down, or a broadcast row of zeros for bars).
    Planes are taken in batches of about `batch_pixels`, widest first."""
    planes, shapes = as_bands(planes)
    order = sorted(range(len(planes)), key=lambda i: shapes[i][::-1], reverse=True)
    blocks: list[np.ndarray | None] = [None] * len(planes)
    batch: list[int] = []
    for n, i in enumerate(order):
        batch.append(i)
        pixels = sum(shapes[j][0] * shapes[j][1] for j in batch)
        following = shapes[order[n + 1]] if n + 1 < len(order) else None
        if following is None or pixels + following[0] * following[1] > batch_pixels:
            pieces = _first_pass([planes[j] for j in batch])  # along the rows
            # down the columns, then both again only where the decimation samples
            for sampled in (False, True, True):
                pieces = _box_along_axis_1(pieces, sampled)
            for j, block in zip(batch, pieces, strict=True):
                blocks[j] = np.ascontiguousarray(block)
            batch = []
    return blocks


def as_bands(planes: list[np.ndarray | list[np.ndarray]]) -> tuple[list[list[np.ndarray]], list[tuple[int, int]]]:
    """Each plane (an array, or a list of bands stacked top to bottom) as a list of bands, and its (rows, cols)."""
    bands = [[plane] if isinstance(plane, np.ndarray) else list(plane) for plane in planes]
    return bands, [(sum(len(band) for band in plane), plane[0].shape[1]) for plane in bands]


def _first_pass(planes: list[list[np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """box1DFloat along the rows of each plane (its bands stacked), (rows, cols). A row is known by its memory
    (its first element's address and the step between elements; the length is the group's): each is filtered
    once. Each plane's result is (the filtered rows, which of them are the plane's rows), gathered by the next
    pass."""
    out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(planes)
    by_length: dict[int, list[int]] = {}
    for i, plane in enumerate(planes):
        by_length.setdefault(plane[0].shape[1], []).append(i)
    for length, members in by_length.items():
        bands = [band for i in members for band in planes[i]]
        if any(band.dtype != np.float32 or band.shape[1] != length for band in bands):
            raise ValueError("a plane's bands must be float32 and of equal width")
        starts = np.cumsum([0] + [len(band) for band in bands])
        steps = np.concatenate([np.full(len(band), band.strides[1], np.int64) for band in bands])
        addresses = np.concatenate(
            [_address(band) + band.strides[0] * np.arange(len(band), dtype=np.int64) for band in bands]
        )
        keys = np.stack([steps, addresses], axis=1)  # the step first: rows of one step sort together
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        # each distinct row is copied from the first band that has it, read top to bottom in memory (a band
        # going upwards is read turned over): rows sorted by address then come in runs of whole bands
        upward = np.array([band.strides[0] < 0 for band in bands])
        band_of = np.searchsorted(starts, first, side="right") - 1
        row_of = first - starts[band_of]
        row_of = np.where(upward[band_of], starts[band_of + 1] - 1 - first, row_of)
        breaks = np.flatnonzero((np.diff(band_of) != 0) | (np.diff(row_of) != 1)) + 1
        lines = np.empty((length, len(first)), np.float32)
        for begin, end in zip(np.r_[0, breaks], np.r_[breaks, len(first)], strict=True):
            band, row = bands[band_of[begin]], row_of[begin]
            downward = band[::-1] if upward[band_of[begin]] else band
            transpose_into(lines[:, begin:end], downward[row : row + end - begin])
        filtered = transpose(RunningBox(length, window_size(length), lines.shape[1]).push(lines))
        del lines
        start = 0
        for i in members:
            rows = sum(len(band) for band in planes[i])
            out[i] = (filtered, inverse[start : start + rows])
            start += rows
    return out


def _address(a: np.ndarray) -> int:
    """Where a's first element is in memory."""
    return a.__array_interface__["data"][0]


def _box_along_axis_1(pieces: list, sampled: bool) -> list[np.ndarray]:
    """box1DFloat along axis 1 of each (lines, length) piece, returned turned: (length, lines), or
    (64, lines) at the decimation's samples. Pieces of one length are turned side by side into one
    (length, all their lines) buffer and filtered down it by one RunningBox. A piece that is a pair,
    _first_pass's (filtered rows, which of them), is (length, lines) already: its rows are gathered."""
    out: list[np.ndarray | None] = [None] * len(pieces)
    by_length: dict[int, list[int]] = {}
    for i, piece in enumerate(pieces):
        by_length.setdefault(len(piece[1]) if isinstance(piece, tuple) else piece.shape[1], []).append(i)
    for length, members in by_length.items():
        starts = np.cumsum([0] + [_lines(pieces[i]) for i in members])
        lines = np.empty((length, int(starts[-1])), np.float32)
        for i, start, stop in zip(members, starts[:-1], starts[1:], strict=True):
            if isinstance(pieces[i], tuple):
                np.take(*pieces[i], axis=0, out=lines[:, start:stop], mode="clip")
            else:
                transpose_into(lines[:, start:stop], pieces[i])
        box = RunningBox(length, window_size(length), lines.shape[1], sample_indices(length) if sampled else None)
        filtered = box.push(lines)
        del box, lines
        for i, start, stop in zip(members, starts[:-1], starts[1:], strict=True):
            out[i] = filtered[:, start:stop]
    return out


def _lines(piece: np.ndarray | tuple[np.ndarray, np.ndarray]) -> int:
    """How many lines a piece of _box_along_axis_1 has side by side."""
    return piece[0].shape[1] if isinstance(piece, tuple) else piece.shape[0]
