"""The tiling engine: an image in, the upscaled image out, a row of tiles at a time, so memory
follows the tile size and the width, not the height; out of memory, a tile is split smaller."""

from __future__ import annotations

import itertools
import logging
import math
from collections import deque
from collections.abc import Iterator

import numpy as np

from ..errors import UpscaleError
from ..limits import check_tile_options
from .bands import ArrayRows, OutputBand, RowWindow
from .cpu.shared import glibc
from .forward import PrecisionSwitched, forward
from .memory import (
    MAX_ELEMENTS,
    MIN_TILE,
    enough_tile,
    largest_tile,
    memory_budget,
    unless_out_of_memory,
)
from .pixels import check_pixels, from_network, to_network
from .prepared import PreparedNetwork
from .progress import Progress, TileProgress
from .tiles import Region, Tile, plan_tiles

log = logging.getLogger(__name__)

# Context around each tile for networks that see farther (RRDBNet ~350 px): x4plus tiled vs whole
# (bench/tiling.py), 40 px half blended gave 51.7 dB at tile 32 for 19-23 % less work than 48 px
# hard-edged (56.9 dB); 32 px blended failed.
DEFAULT_TILE_PAD = 40
BLEND_FRACTION = 0.5  # of the context, blended across tile edges when the context is short
# Freed memory is given back after each tile this big and each row: ~5 ms, nothing for large tiles.
TRIM_FROM_BYTES = 32 << 20


def default_tile_pad(prepared: PreparedNetwork) -> int:
    """Enough context for exact tiles when the network sees little, else the measured default."""
    return min(math.ceil(prepared.model.receptive_radius), DEFAULT_TILE_PAD)


def blend_band(prepared: PreparedNetwork, pad: int) -> int:
    """The blend band for this context: none when the context covers what the network sees."""
    if pad >= math.ceil(prepared.model.receptive_radius):
        return 0
    return int(pad * BLEND_FRACTION)


def bytes_per_pixel(prepared: PreparedNetwork) -> float:
    return prepared.memory_facts().bytes_per_pixel(prepared.dtype, prepared.model.in_channels,
                                                   prepared.scale)


def auto_tile(prepared: PreparedNetwork, height: int, width: int, pad: int,
              cpu_budget: int | None = None) -> int:
    """The tile side for ``tile=0``: the whole image if it fits, else the largest that fits."""
    budget = memory_budget(prepared.device)
    if cpu_budget is not None and prepared.device.type == "cpu":
        budget = min(budget, cpu_budget)
    per_pixel = bytes_per_pixel(prepared)
    if height * width * per_pixel <= budget:
        return _within_elements(prepared, max(height, width), height, width, pad)
    return _within_elements(prepared, min(largest_tile(budget, per_pixel, pad), enough_tile(pad)),
                            height, width, pad)


def _within_elements(prepared: PreparedNetwork, size: int, height: int, width: int,
                     pad: int) -> int:
    """``size``, or less where a tile that big would have an activation over MAX_ELEMENTS."""
    facts = prepared.memory_facts()
    multiple = prepared.model.size.multiple_of
    rows, cols = (min(min(size, side) + 2 * pad, side) + multiple for side in (height, width))
    if facts.elements_per_pixel * rows * cols <= MAX_ELEMENTS:
        return size
    capped = int(math.sqrt(MAX_ELEMENTS / facts.elements_per_pixel)) - 2 * pad - multiple
    return min(size, max(MIN_TILE, capped))


def tile_side(prepared: PreparedNetwork, tile: int, height: int, width: int, pad: int,
              cpu_budget: int | None = None) -> int:
    """The tile side to start with, no larger than what worked or MAX_ELEMENTS allows."""
    if tile == 0 and prepared.model.tiling == "internal":  # it tiles the image itself
        size = max(height, width)  # our estimate cannot see that: whole, unless memory runs out
    else:
        size = tile or auto_tile(prepared, height, width, pad, cpu_budget)
    if prepared.tile_limit is not None:
        size = min(size, prepared.tile_limit)
    return _within_elements(prepared, size, height, width, pad)


def give_back_freed_memory() -> None:
    """Return freed heap pages, which glibc keeps fragmented, so the resident size stays flat."""
    if (libc := glibc()) is not None:  # not on macOS, Windows, musl
        libc.malloc_trim(0)


def _run_tile(prepared: PreparedNetwork, reader: ArrayRows | RowWindow, tile: Tile,
              dtype: np.dtype) -> np.ndarray:
    """The upscaled kept region of one tile, H×W×C of ``dtype``."""
    ctx, kept, s = tile.context, tile.kept, prepared.scale
    x = to_network(reader.rows(ctx.y0, ctx.y1)[:, ctx.x0:ctx.x1], prepared.device)
    y = forward(prepared, x)
    top, left = (kept.y0 - ctx.y0) * s, (kept.x0 - ctx.x0) * s
    y = y[..., top: top + kept.height * s, left: left + kept.width * s]
    return from_network(y, dtype)[0]


def stream_network(prepared: PreparedNetwork, reader: ArrayRows | RowWindow,
                   shape: tuple[int, int, int], dtype: np.dtype, *, tile: int = 0,
                   tile_pad: int | None = None, progress: Progress = False,
                   source_bits: int | None = None,
                   cpu_budget: int | None = None) -> Iterator[np.ndarray]:
    """Upscale an H×W×C image read through ``reader``; yields its output rows top to bottom."""
    height, width, channels = shape
    dtype = np.dtype(dtype)
    prepared = prepared.for_pixels(dtype, source_bits)
    check_tile_options(tile, tile_pad)
    s = prepared.scale
    pad = default_tile_pad(prepared) if tile_pad is None else tile_pad
    size = tile_side(prepared, tile, height, width, pad, cpu_budget)
    multiple = prepared.model.size.multiple_of
    band = blend_band(prepared, pad)
    output = OutputBand(width * s, channels, dtype, blended=band > 0)
    tiles = plan_tiles(Region(0, height, 0, width), size, pad, height, width, multiple, band)
    rows = [list(row) for _, row in itertools.groupby(tiles, key=lambda t: t.core.y0)]
    later = len(tiles)
    with TileProgress(progress, later) as bar:
        for index, row in enumerate(rows):
            later -= len(row)
            reader.release(min(t.context.y0 for t in row))
            output.extend_to(max(t.kept.y1 for t in row) * s)
            size = _run_row(prepared, reader, output, deque(row), size, (tile, cpu_budget),
                            pad, band, shape, bar, later)
            finished = (height if index == len(rows) - 1
                        else min(t.kept.y0 for t in rows[index + 1])) * s
            yield output.take(finished)


def _run_row(prepared: PreparedNetwork, reader: ArrayRows | RowWindow, output: OutputBand,
             pending: deque[Tile], size: int, asked: tuple[int, int | None], pad: int,
             band: int, shape: tuple[int, int, int], bar: TileProgress, later: int) -> int:
    """Run and paste one row's tiles; returns the tile side that worked."""
    height, width, _ = shape
    multiple = prepared.model.size.multiple_of
    per_pixel = bytes_per_pixel(prepared)
    while pending:
        current = pending.popleft()
        core = current.core
        if max(core.height, core.width) > size:  # planned before the tile size shrank
            pending.extendleft(reversed(plan_tiles(core, size, pad, height, width, multiple,
                                                   band, current.bands)))
            continue
        try:
            result, failure = unless_out_of_memory(prepared.device, _run_tile, prepared,
                                                   reader, current, output.store)
        except PrecisionSwitched:  # now fp32: twice the bytes, so size the tiles again
            size = min(size, tile_side(prepared, asked[0], height, width, pad, asked[1]))
            pending.appendleft(current)
            continue
        if failure:
            failed_side = max(core.height, core.width)
            if failed_side // 2 < MIN_TILE:
                raise UpscaleError(
                    f"out of memory on {prepared.device} even with a {failed_side}×{failed_side} "
                    f"tile (the smallest tried is {MIN_TILE}; the device said: {failure}); free "
                    "memory on the device, use --precision fp16 on a GPU, or run on another device")
            size = prepared.tile_limit = failed_side // 2
            log.info("out of memory with a %d px tile on %s (%s); redoing it as %d px tiles",
                     failed_side, prepared.device, failure, size)
            pending.appendleft(current)
            continue
        output.paste(current, result, prepared.scale)
        del result
        if current.context.height * current.context.width * per_pixel >= TRIM_FROM_BYTES:
            give_back_freed_memory()  # the tile's buffers, before the next tile's are made
        bar.advance(len(pending) + later)
    give_back_freed_memory()
    return size


def run_network(prepared: PreparedNetwork, image: np.ndarray, *, tile: int = 0,
                tile_pad: int | None = None, progress: Progress = False,
                source_bits: int | None = None) -> np.ndarray:
    """Upscale an H×W×C uint8/uint16/float32 image; returns (H·s)×(W·s)×C of the same dtype
    (``tile``: the largest tile side, 0 automatic; ``source_bits``: as of a 10-bit video)."""
    check_pixels(image, prepared.model.in_channels)
    if image.ndim != 3:
        raise UpscaleError(f"run_network takes one H×W×C image, not shape {image.shape}; "
                           "use run_frames for a batch")
    height, width, channels = image.shape
    s = prepared.scale
    output = np.empty((height * s, width * s, channels), dtype=image.dtype)
    done = 0
    for rows in stream_network(prepared, ArrayRows(image), image.shape, image.dtype, tile=tile,
                               tile_pad=tile_pad, progress=progress, source_bits=source_bits):
        output[done: done + len(rows)] = rows
        done += len(rows)
        del rows  # before the next band is made
    return output

