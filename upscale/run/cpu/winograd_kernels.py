"""Numba kernels for the Winograd transforms of :mod:`.winograd`: tile rows across cores, the
innermost loop over the contiguous channels, so it vectorises. Cached on disk (``cache=True``)."""

from __future__ import annotations

import numpy as np
from numba import float32, njit, prange

# Every fast-math licence except reassociation: the compiler may fuse multiply-adds and
# ignore NaN/inf/-0 corner cases, but may not reorder sums, so the vectorised loop and its
# scalar remainder compute the same values (measured 4.6 against 5.8 ms for no fast math).
FAST = {"nnan", "ninf", "nsz", "arcp", "contract", "afn"}

_1_4, _1_2, _5_4, _2, _5_2 = float32(0.25), float32(0.5), float32(1.25), float32(2), float32(2.5)
_4, _17_4, _5, _21_4 = float32(4), float32(4.25), float32(5), float32(5.25)
_8, _16, _32 = float32(8), float32(16), float32(32)
_1_8, _1_16, _1_32 = float32(0.125), float32(0.0625), float32(0.03125)


@njit(inline="always", fastmath=FAST)
def _bt(d0, d1, d2, d3, d4, d5, d6, d7):  # noqa: ANN001, ANN202, PLR0913 - numba scalars
    """Bᵀ·d for one 8-vector."""
    even = d2 + d6 - _17_4 * d4
    odd = d1 + d5 - _17_4 * d3
    even_quarter = d6 + _1_4 * d2 - _5_4 * d4
    odd_half = _1_2 * d1 - _5_2 * d3 + _2 * d5
    even_four = d6 + _4 * d2 - _5 * d4
    odd_two = _2 * d1 - _5_2 * d3 + _1_2 * d5
    return (d0 - d6 + _21_4 * (d4 - d2),
            even + odd, even - odd,
            even_quarter + odd_half, even_quarter - odd_half,
            even_four + odd_two, even_four - odd_two,
            d7 - d1 + _21_4 * (d3 - d5))


@njit(inline="always", fastmath=FAST)
def _at(m0, m1, m2, m3, m4, m5, m6, m7):  # noqa: ANN001, ANN202, PLR0913 - numba scalars
    """Aᵀ·m for one 8-vector: six outputs."""
    s1, d1 = m1 + m2, m1 - m2
    s2, d2 = m3 + m4, m3 - m4
    s3, d3 = m5 + m6, m5 - m6
    return (m0 + s1 + s2 + s3,
            d1 + _2 * d2 + _1_2 * d3,
            s1 + _4 * s2 + _1_4 * s3,
            d1 + _8 * d2 + _1_8 * d3,
            s1 + _16 * s2 + _1_16 * s3,
            d1 + _32 * d2 + _1_32 * d3 + m7)


@njit(inline="always")
def _row_place(shape, row, row_start):  # noqa: ANN001, ANN202 - numba ints
    """(image, top pixel row, first tile index in the band, tiles per row) of tile row ``row``."""
    tiles_h = (shape[1] - 2) // 6
    tiles_w = (shape[2] - 2) // 6
    return row // tiles_h, 6 * (row % tiles_h), (row - row_start) * tiles_w, tiles_w


@njit(parallel=True, fastmath=FAST, cache=True, boundscheck=False)
def input_transform(src, out, channel_offset, row_start, row_stop):  # noqa: ANN001, ANN201
    """out[:, (r - row_start)*Wt + j, channel_offset:+C] = Bᵀ d B for tile rows [start, stop)."""
    padded_w, channels = src.shape[2], src.shape[3]
    for row in prange(row_start, row_stop):
        image, top, first, tiles_w = _row_place(src.shape, row, row_start)
        # Bᵀ along the eight input rows, for every column of the row band.
        cols = np.empty((8, padded_w, channels), dtype=np.float32)
        for x in range(padded_w):
            for c in range(channels):
                r = _bt(src[image, top, x, c], src[image, top + 1, x, c],
                        src[image, top + 2, x, c], src[image, top + 3, x, c],
                        src[image, top + 4, x, c], src[image, top + 5, x, c],
                        src[image, top + 6, x, c], src[image, top + 7, x, c])
                for a in range(8):
                    cols[a, x, c] = r[a]
        # then B along each tile's eight columns.
        for a in range(8):
            for j in range(tiles_w):
                left = 6 * j
                tile = first + j
                for c in range(channels):
                    r = _bt(cols[a, left, c], cols[a, left + 1, c], cols[a, left + 2, c],
                            cols[a, left + 3, c], cols[a, left + 4, c], cols[a, left + 5, c],
                            cols[a, left + 6, c], cols[a, left + 7, c])
                    k = channel_offset + c
                    for b in range(8):
                        out[8 * a + b, tile, k] = r[b]


@njit(parallel=True, fastmath=FAST, cache=True, boundscheck=False)
def output_transform(products, bias, slopes, dst, height, width, row_start, row_stop,  # noqa: ANN001, ANN201, PLR0913
                     accumulate):
    """Aᵀ M A + bias of tile rows [start, stop) into the image part of ``dst``: ``v if v >= 0
    else v * slopes[c]`` (any of our activations), or with ``accumulate`` ``dst += v``."""
    channels = dst.shape[3]
    for row in prange(row_start, row_stop):
        image, top, first, tiles_w = _row_place(dst.shape, row, row_start)
        half = np.empty((6, 8, channels), dtype=np.float32)
        pixels = np.empty((6, channels), dtype=np.float32)
        for j in range(tiles_w):
            tile = first + j
            for b in range(8):
                for c in range(channels):
                    r = _at(products[b, tile, c], products[8 + b, tile, c],
                            products[16 + b, tile, c], products[24 + b, tile, c],
                            products[32 + b, tile, c], products[40 + b, tile, c],
                            products[48 + b, tile, c], products[56 + b, tile, c])
                    for q in range(6):
                        half[q, b, c] = r[q]
            for q in range(6):
                y = top + q
                if y >= height:
                    break
                for c in range(channels):
                    r = _at(half[q, 0, c], half[q, 1, c], half[q, 2, c], half[q, 3, c],
                            half[q, 4, c], half[q, 5, c], half[q, 6, c], half[q, 7, c])
                    for e in range(6):
                        pixels[e, c] = r[e] + bias[c]
                for e in range(6):
                    x = 6 * j + e
                    if x >= width:
                        break
                    if accumulate:
                        for c in range(channels):
                            dst[image, 1 + y, 1 + x, c] += pixels[e, c]
                    else:
                        for c in range(channels):
                            value = pixels[e, c]
                            dst[image, 1 + y, 1 + x, c] = value if value >= 0 else value * slopes[c]
