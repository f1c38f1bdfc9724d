"""The memory of a streamed upscale: a window of input rows and a band of output rows,
held only while a row of tiles needs them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .tiles import Tile, tile_weights


class ArrayRows:
    """An image already in memory, read in place (the reader :class:`RowWindow` streams)."""

    def __init__(self, image: np.ndarray) -> None:
        self.image = image

    def rows(self, y0: int, y1: int) -> np.ndarray:
        return self.image[y0:y1]

    def release(self, y: int) -> None:
        pass


class RowWindow:
    """Rows of a forward-only source, read when asked for and dropped once released."""

    def __init__(self, read_next: Callable[[int], np.ndarray], height: int) -> None:
        self.read_next = read_next
        self.height = height
        self.top = 0  # the input row held at self.held[0]
        self.held: np.ndarray | None = None

    def rows(self, y0: int, y1: int) -> np.ndarray:
        if y0 < self.top:
            raise ValueError(f"rows from {y0} were already released (held from {self.top})")
        bottom = self.top + (0 if self.held is None else len(self.held))
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
    """Output rows that tiles are still writing, from ``top`` down; blended shares add up
    in float32, rounded once when taken (rounding each lost up to a level per seam)."""

    def __init__(self, width: int, channels: int, dtype: np.dtype, blended: bool) -> None:
        self.dtype = np.dtype(dtype)
        self.store = np.dtype(np.float32) if blended else self.dtype
        self.top = 0
        self.buffer = np.zeros((0, width, channels), dtype=self.store)

    def extend_to(self, bottom: int) -> None:
        """Make room for output rows down to ``bottom`` (blends add to zeros)."""
        if bottom <= self.top + len(self.buffer):
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
