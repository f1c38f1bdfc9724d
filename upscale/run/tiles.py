"""Tile geometry: which input pixels each tile writes (its *core*) and which it sees; with too
little context, neighbours blend across a *band*, spreading edge errors instead of a step."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Region:
    """Rows ``y0:y1`` and columns ``x0:x1`` of the input image."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0


@dataclass(frozen=True)
class Bands:
    """Blend band half-widths, in input pixels, on each side of a tile (0: a hard edge)."""

    top: int = 0
    bottom: int = 0
    left: int = 0
    right: int = 0


@dataclass(frozen=True)
class Tile:
    core: Region  # the pixels this tile owns
    context: Region  # fed to the network
    bands: Bands = Bands()  # the output kept is the core grown by these, blended there

    @property
    def kept(self) -> Region:
        core, bands = self.core, self.bands
        return Region(core.y0 - bands.top, core.y1 + bands.bottom,
                      core.x0 - bands.left, core.x1 + bands.right)


def ramp(length: int) -> np.ndarray:
    """A raised cosine from ~0 to ~1 over ``length`` pixel centres; ``ramp(n) +
    ramp(n)[::-1] == 1``, so two tiles blended across a band always weigh 1 in total."""
    t = (np.arange(length, dtype=np.float64) + 0.5) / max(length, 1)
    return (0.5 - 0.5 * np.cos(np.pi * t)).astype(np.float32)


def edge_weights(length: int, before: int, after: int) -> np.ndarray:
    """One axis of a tile's blend weight: ramps of ``before``/``after`` samples at its ends."""
    weights = np.ones(length, dtype=np.float32)
    if before:
        weights[:before] = ramp(before)
    if after:
        weights[length - after:] = ramp(after)[::-1]
    return weights


def tile_weights(tile: Tile, scale: int) -> np.ndarray:
    """The (kept height × kept width) output weight of a tile, at ``scale``."""
    kept, bands = tile.kept, tile.bands
    rows = edge_weights(kept.height * scale, 2 * bands.top * scale, 2 * bands.bottom * scale)
    cols = edge_weights(kept.width * scale, 2 * bands.left * scale, 2 * bands.right * scale)
    return rows[:, None] * cols[None, :]


def split_span(start: int, stop: int, size: int) -> list[tuple[int, int]]:
    """Split ``start:stop`` into the fewest parts of at most ``size``, as equal as possible."""
    length = stop - start
    parts = max(1, math.ceil(length / max(1, size)))
    edges = [start + (length * i) // parts for i in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def context_span(start: int, stop: int, pad: int, limit: int, multiple: int) -> tuple[int, int]:
    """Grow ``start:stop`` by ``pad`` within ``0:limit``, starting on a multiple of ``multiple``
    (so pixel-unshuffle networks see the whole image's pixel phase)."""
    lo = max(0, start - pad)
    lo -= lo % multiple
    hi = min(limit, stop + pad)
    hi = min(limit, hi + (-(hi - lo) % multiple))
    return lo, hi


def inner_band(spans: list[tuple[int, int]], band: int, outer: tuple[int, int]) -> int:
    """The band between these parts, narrow enough that no part's two bands overlap."""
    if len(spans) < 2:
        return 0
    shortest = min(stop - start for start, stop in spans)
    return max(0, min(band, shortest // 2, shortest - max(outer)))


def plan_tiles(core: Region, size: int, pad: int, height: int, width: int,
               multiple: int = 1, band: int = 0, outer: Bands = Bands()) -> list[Tile]:
    """Tiles of at most ``size``×``size`` core pixels covering ``core``, in reading order,
    blending ``band`` between them and keeping ``core``'s ``outer`` bands with its neighbours."""
    band = min(band, pad)
    rows, cols = split_span(core.y0, core.y1, size), split_span(core.x0, core.x1, size)
    row_band = inner_band(rows, band, (outer.top, outer.bottom))
    col_band = inner_band(cols, band, (outer.left, outer.right))
    tiles = []
    for i, (y0, y1) in enumerate(rows):
        cy0, cy1 = context_span(y0, y1, pad, height, multiple)
        top = outer.top if i == 0 else row_band
        bottom = outer.bottom if i == len(rows) - 1 else row_band
        for j, (x0, x1) in enumerate(cols):
            cx0, cx1 = context_span(x0, x1, pad, width, multiple)
            left = outer.left if j == 0 else col_band
            right = outer.right if j == len(cols) - 1 else col_band
            tiles.append(Tile(Region(y0, y1, x0, x1), Region(cy0, cy1, cx0, cx1),
                              Bands(top, bottom, left, right)))
    return tiles
