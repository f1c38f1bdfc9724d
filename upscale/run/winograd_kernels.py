"""Numba kernels for the Winograd F(4x4, 3x3) transforms of :mod:`.winograd`.

Each kernel walks *tile rows*: tile row ``r`` is image ``r // Ht``, tiles
``4*(r % Ht) ..`` of a padded map (``[N, 4*Ht + 2, 4*Wt + 2, C]``, zero outside
the image, see :mod:`.winograd`). Work is split across cores by tile row, and
within a row the innermost loop runs over channels, which are contiguous, so
LLVM vectorises it. Transformed tiles live in ``[36, tiles, channels]`` matrices:
one matrix per position of the 6x6 transformed tile, which is the shape the
batched matrix multiply of the Winograd method wants.

Compiled on first use and cached on disk (``cache=True``): a few seconds once,
about half a second per process afterwards.
"""

from __future__ import annotations

import numpy as np
from numba import float32, njit, prange

# Every fast-math licence except reassociation: the compiler may fuse multiply-adds and
# ignore NaN/inf/-0 corner cases, but may not reorder sums, so the vectorised loop and its
# scalar remainder compute the same values (measured 4.6 against 5.8 ms for no fast math).
FAST = {"nnan", "ninf", "nsz", "arcp", "contract", "afn"}

_2 = float32(2)
_4 = float32(4)
_5 = float32(5)
_8 = float32(8)


@njit(inline="always", fastmath=FAST)
def _bt(d0, d1, d2, d3, d4, d5):  # noqa: ANN001, ANN202 - numba scalars
    """Bᵀ·d for one 6-vector (Lavin & Gray's F(4,3) with points 0, ±1, ±2)."""
    return (_4 * d0 - _5 * d2 + d4,
            -_4 * d1 - _4 * d2 + d3 + d4,
            _4 * d1 - _4 * d2 - d3 + d4,
            -_2 * d1 - d2 + _2 * d3 + d4,
            _2 * d1 - d2 - _2 * d3 + d4,
            _4 * d1 - _5 * d3 + d5)


@njit(inline="always", fastmath=FAST)
def _at(m0, m1, m2, m3, m4, m5):  # noqa: ANN001, ANN202 - numba scalars
    """Aᵀ·m for one 6-vector: four outputs."""
    return (m0 + m1 + m2 + m3 + m4,
            m1 - m2 + _2 * m3 - _2 * m4,
            m1 + m2 + _4 * m3 + _4 * m4,
            m1 - m2 + _8 * m3 - _8 * m4 + m5)


@njit(inline="always")
def _row_place(shape, row, row_start):  # noqa: ANN001, ANN202 - numba ints
    """(image, top pixel row, first tile index in the band, tiles per row) of tile row ``row``."""
    tiles_h = (shape[1] - 2) // 4
    tiles_w = (shape[2] - 2) // 4
    return row // tiles_h, 4 * (row % tiles_h), (row - row_start) * tiles_w, tiles_w


@njit(parallel=True, fastmath=FAST, cache=True, boundscheck=False)
def input_transform(src, out, channel_offset, row_start, row_stop):  # noqa: ANN001, ANN201
    """out[:, (r - row_start)*Wt + j, channel_offset:+C] = Bᵀ d B for tile rows [start, stop).

    ``src`` is a padded map ``[N, 4*Ht + 2, 4*Wt + 2, C]``; ``out`` is ``[36, tiles, >= C]``.
    """
    padded_w, channels = src.shape[2], src.shape[3]
    for row in prange(row_start, row_stop):
        image, top, first, tiles_w = _row_place(src.shape, row, row_start)
        # Bᵀ along the six input rows, for every column of the row band.
        cols = np.empty((6, padded_w, channels), dtype=np.float32)
        for x in range(padded_w):
            for c in range(channels):
                r = _bt(src[image, top, x, c], src[image, top + 1, x, c],
                        src[image, top + 2, x, c], src[image, top + 3, x, c],
                        src[image, top + 4, x, c], src[image, top + 5, x, c])
                cols[0, x, c] = r[0]
                cols[1, x, c] = r[1]
                cols[2, x, c] = r[2]
                cols[3, x, c] = r[3]
                cols[4, x, c] = r[4]
                cols[5, x, c] = r[5]
        # then B along each tile's six columns.
        for a in range(6):
            for j in range(tiles_w):
                left = 4 * j
                tile = first + j
                for c in range(channels):
                    r = _bt(cols[a, left, c], cols[a, left + 1, c], cols[a, left + 2, c],
                            cols[a, left + 3, c], cols[a, left + 4, c], cols[a, left + 5, c])
                    k = channel_offset + c
                    out[6 * a, tile, k] = r[0]
                    out[6 * a + 1, tile, k] = r[1]
                    out[6 * a + 2, tile, k] = r[2]
                    out[6 * a + 3, tile, k] = r[3]
                    out[6 * a + 4, tile, k] = r[4]
                    out[6 * a + 5, tile, k] = r[5]


@njit(parallel=True, fastmath=FAST, cache=True, boundscheck=False)
def output_transform(products, bias, slopes, dst, height, width, row_start, row_stop,  # noqa: ANN001, ANN201, PLR0913
                     accumulate):
    """Write Aᵀ M A + bias of tile rows [start, stop) into the padded map ``dst``.

    Only pixels inside ``height`` x ``width`` are written, so the zero border of
    ``dst`` stays zero. Either ``dst = act(value)`` with ``act(v) = v if v >= 0
    else v * slopes[c]`` (identity, ReLU, LeakyReLU and PReLU are all this), or,
    with ``accumulate``, ``dst += value`` (a residual connection, no activation).
    """
    channels = dst.shape[3]
    for row in prange(row_start, row_stop):
        image, top, first, tiles_w = _row_place(dst.shape, row, row_start)
        half = np.empty((4, 6, channels), dtype=np.float32)
        pixels = np.empty((4, channels), dtype=np.float32)
        for j in range(tiles_w):
            tile = first + j
            for b in range(6):
                for c in range(channels):
                    r = _at(products[b, tile, c], products[6 + b, tile, c],
                            products[12 + b, tile, c], products[18 + b, tile, c],
                            products[24 + b, tile, c], products[30 + b, tile, c])
                    half[0, b, c] = r[0]
                    half[1, b, c] = r[1]
                    half[2, b, c] = r[2]
                    half[3, b, c] = r[3]
            for q in range(4):
                y = top + q
                if y >= height:
                    break
                for c in range(channels):
                    r = _at(half[q, 0, c], half[q, 1, c], half[q, 2, c],
                            half[q, 3, c], half[q, 4, c], half[q, 5, c])
                    pixels[0, c] = r[0] + bias[c]
                    pixels[1, c] = r[1] + bias[c]
                    pixels[2, c] = r[2] + bias[c]
                    pixels[3, c] = r[3] + bias[c]
                for e in range(4):
                    x = 4 * j + e
                    if x >= width:
                        break
                    if accumulate:
                        for c in range(channels):
                            dst[image, 1 + y, 1 + x, c] += pixels[e, c]
                    else:
                        for c in range(channels):
                            value = pixels[e, c]
                            dst[image, 1 + y, 1 + x, c] = value if value >= 0 else value * slopes[c]
