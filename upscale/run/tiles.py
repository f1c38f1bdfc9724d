"""Tile geometry: which input pixels each tile writes, and which it sees.

Every tile owns a *core* (the cores partition the image) and sees a *context*:
its core grown by ``pad`` pixels on every side that is not the image border.
Only the core's output is kept, so with enough context the result is the
whole-image result. Cores split each side into equal parts (no thin slivers at
the far edge); contexts start on multiples of the network's ``size_multiple``
so pixel-unshuffle networks see the same pixel phase as on the whole image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


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
class Tile:
    core: Region  # written to the output
    context: Region  # fed to the network


def split_span(start: int, stop: int, size: int) -> list[tuple[int, int]]:
    """Split ``start:stop`` into the fewest parts of at most ``size``, as equal as possible."""
    length = stop - start
    parts = max(1, math.ceil(length / max(1, size)))
    edges = [start + (length * i) // parts for i in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def context_span(start: int, stop: int, pad: int, limit: int, multiple: int) -> tuple[int, int]:
    """Grow ``start:stop`` by ``pad`` within ``0:limit``, starting on a multiple of ``multiple``.

    The end is grown to make the length a multiple when the image allows; when
    it does not (the image side itself is not a multiple), the caller pads.
    """
    lo = max(0, start - pad)
    lo -= lo % multiple
    hi = min(limit, stop + pad)
    hi = min(limit, hi + (-(hi - lo) % multiple))
    return lo, hi


def plan_tiles(core: Region, size: int, pad: int, height: int, width: int,
               multiple: int = 1) -> list[Tile]:
    """Tiles of at most ``size``×``size`` core pixels covering ``core``, in reading order."""
    tiles = []
    for y0, y1 in split_span(core.y0, core.y1, size):
        cy0, cy1 = context_span(y0, y1, pad, height, multiple)
        for x0, x1 in split_span(core.x0, core.x1, size):
            cx0, cx1 = context_span(x0, x1, pad, width, multiple)
            tiles.append(Tile(Region(y0, y1, x0, x1), Region(cy0, cy1, cx0, cx1)))
    return tiles
