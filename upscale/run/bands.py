"""The memory of a streamed upscale: a window of input rows and a band of output rows.

The tiling engine works a row of tiles at a time. What it holds is the input rows
that row's tiles see (:class:`RowWindow`, read forward from the source, released
behind) and the output rows its tiles write (:class:`OutputBand`) until no later
tile can add to them; those rows are then handed on and forgotten. Both grow with
the tile size and the image's width, never with its height.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from .tiles import Tile, tile_weights


class RowReader(Protocol):
    """Input rows for the tiler, asked for in (mostly) increasing order."""

    def rows(self, y0: int, y1: int) -> np.ndarray:
        """Rows ``y0:y1`` of the input, every column: (y1-y0)×W×C."""

    def release(self, y: int) -> None:
        """Rows above ``y`` will not be asked for again."""


class ArrayRows:
    """An image already in memory, read in place."""

    def __init__(self, image: np.ndarray) -> None:
        self.image = image

    def rows(self, y0: int, y1: int) -> np.ndarray:
        return self.image[y0:y1]

    def release(self, y: int) -> None:
        pass


class RowWindow:
    """Rows of a source that can only be read forward, kept from the first row still needed.

    ``read_next(n)`` returns the source's next ``n`` rows (n×W×C). Rows are read only
    when asked for, and dropped once :meth:`release` says they are behind every tile.
    """

    def __init__(self, read_next: Callable[[int], np.ndarray], height: int) -> None:
        self.read_next = read_next
        self.height = height
        self.top = 0  # the input row held at self.held[0]
        self.held: np.ndarray | None = None

    def _bottom(self) -> int:
        return self.top + (0 if self.held is None else len(self.held))

    def rows(self, y0: int, y1: int) -> np.ndarray:
        if y0 < self.top:
            raise ValueError(f"rows from {y0} were already released (held from {self.top})")
        bottom = self._bottom()
        if y1 > bottom:
            fresh = self.read_next(min(y1, self.height) - bottom)
            self.held = fresh if self.held is None else np.concatenate([self.held, fresh])
        return self.held[y0 - self.top: y1 - self.top]

    def release(self, y: int) -> None:
        if self.held is None or y <= self.top:
            return
        drop = min(y - self.top, len(self.held))
        self.held = self.held[drop:].copy() if drop < len(self.held) else None
        self.top += drop


class OutputBand:
    """Output rows that tiles are still writing, from ``top`` down.

    Without blending, tiles' pixels are the final ones and the band has the image's
    dtype. With blending, shares are added in float32 and rounded once, when the rows
    are taken (rounding each share lost up to a level per seam).
    """

    def __init__(self, width: int, channels: int, dtype: np.dtype, blended: bool) -> None:
        self.dtype = np.dtype(dtype)
        self.blended = blended
        self.store = np.dtype(np.float32) if blended else self.dtype
        self.top = 0
        self.buffer = np.zeros((0, width, channels), dtype=self.store)

    @property
    def bottom(self) -> int:
        return self.top + len(self.buffer)

    def extend_to(self, bottom: int) -> None:
        """Make room for output rows down to ``bottom`` (blends add to zeros)."""
        if bottom <= self.bottom:
            return
        grown = np.zeros((bottom - self.top, *self.buffer.shape[1:]), dtype=self.store)
        grown[: len(self.buffer)] = self.buffer
        self.buffer = grown

    def paste(self, tile: Tile, result: np.ndarray, scale: int) -> None:
        """Write a tile's result; a blended tile adds its weighted share."""
        kept = tile.kept
        target = self.buffer[kept.y0 * scale - self.top: kept.y1 * scale - self.top,
                             kept.x0 * scale: kept.x1 * scale]
        if kept == tile.core:
            target[...] = result
        else:
            target += result * tile_weights(tile, scale)[:, :, None]

    def take(self, bottom: int) -> np.ndarray:
        """The finished rows down to ``bottom``, in the image's dtype; they leave the band."""
        done, self.buffer = self.buffer[: bottom - self.top], self.buffer[bottom - self.top:]
        self.buffer = self.buffer.copy()  # the finished rows' memory goes with them
        self.top = bottom
        if self.store == self.dtype:
            return done
        top = float(np.iinfo(self.dtype).max)
        return np.rint(np.clip(done, 0.0, 1.0) * top).astype(self.dtype)
