"""The tiling engine: an image in, the upscaled image out, in bounded memory.

Tiles are cut with context (see :mod:`.tiles`) and run a row of tiles at a time
(:func:`stream_network`): the input rows a row sees are read as it needs them, and
its output rows are handed on as soon as no later tile writes them, so memory
follows the tile size and the width, not the whole image (:mod:`.bands`).
Tiles' cores are written straight into the output band, which has the input's
dtype; where the context is shorter than the network's reach, neighbouring tiles
are blended across a band instead (each tile adds its weighted share, in float32,
rounded once). When the device runs out of memory the tile size is halved and only
the tile that failed is split and redone; finished tiles stay where they are. The
size that worked is kept on the prepared network for the rest of the run.
:func:`run_network` is the same engine with its bands gathered into one array.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Iterator

import numpy as np

from ..errors import UpscaleError
from ..limits import check_tile_options
from .bands import ArrayRows, OutputBand, RowReader
from .forward import PrecisionSwitched, forward
from .memory import (
    MAX_ELEMENTS,
    MIN_TILE,
    NetworkFacts,
    element_cap_side,
    enough_tile,
    largest_tile,
    memory_budget,
    unless_out_of_memory,
)
from .pixels import check_pixels, from_network, to_network
from .prepared import PreparedNetwork
from .progress import Progress, TileProgress
from .tiles import Region, Tile, plan_tiles
from .trim import give_back_freed_memory

log = logging.getLogger(__name__)

# Context around each tile, in input pixels, for networks that see farther than this
# (RRDBNet's receptive radius is ~350 px); half of it is blended across tile edges. RealESRGAN
# x4plus, Set5 baby 256×128, tiled vs whole image (bench/tiling.py, bench/RESULTS.md): 48 px
# with hard edges -> 56.9 / 60.2 / 70.2 dB at tiles 32 / 64 / 128; 32 px blended -> 47.6 dB and
# 18 levels at tile 32 (fails); 40 px blended -> 51.7 dB, 7 levels at tile 32, for 19-23 % less
# network work than 48. Networks that see less (SRVGGNetCompact: one pixel per conv) get
# exactly their receptive radius, which makes tiling exact and needs no blending.
DEFAULT_TILE_PAD = 40
BLEND_FRACTION = 0.5  # of the context, blended across tile edges when the context is short
# Freed memory is given back to the system after each tile that needed this much (glibc
# kept ~200 MB of a 96 MP run's tiles otherwise), and after each row of tiles: a call
# costs ~5 ms, a lot for thousands of small tiles, nothing for large ones.
TRIM_FROM_BYTES = 32 << 20


def network_facts(prepared: PreparedNetwork) -> NetworkFacts:
    """Activation size, probed once per prepared network."""
    return prepared.memory_facts()


def default_tile_pad(prepared: PreparedNetwork) -> int:
    """Enough context for exact tiles when the network sees little, else the measured default."""
    return min(math.ceil(prepared.model.receptive_radius), DEFAULT_TILE_PAD)


def blend_band(prepared: PreparedNetwork, pad: int) -> int:
    """The blend band for this context: none when the context covers what the network sees."""
    if pad >= math.ceil(prepared.model.receptive_radius):
        return 0
    return int(pad * BLEND_FRACTION)


def bytes_per_pixel(prepared: PreparedNetwork) -> float:
    return network_facts(prepared).bytes_per_pixel(prepared.dtype, prepared.model.in_channels,
                                                   prepared.scale)


def auto_tile(prepared: PreparedNetwork, height: int, width: int, pad: int,
              cpu_budget: int | None = None) -> int:
    """The tile side for ``tile=0``: the whole image if it fits, else the largest that fits
    (in ``cpu_budget`` bytes too, on a CPU, where one is given)."""
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
    facts = network_facts(prepared)
    multiple = prepared.model.size.multiple_of
    rows, cols = (min(min(size, side) + 2 * pad, side) + multiple for side in (height, width))
    if facts.largest_activation(rows, cols) <= MAX_ELEMENTS:
        return size
    return min(size, max(MIN_TILE, element_cap_side(facts.elements_per_pixel, pad, multiple)))


def tile_side(prepared: PreparedNetwork, tile: int, height: int, width: int, pad: int,
              cpu_budget: int | None = None) -> int:
    """The tile side to start an image with: the user's (or the automatic) one, no larger than
    what worked after running out of memory, and small enough that no activation of a tile
    exceeds :data:`~.memory.MAX_ELEMENTS`, whatever the memory."""
    if tile == 0 and prepared.model.tiling == "internal":  # it tiles the image itself
        size = max(height, width)  # our estimate cannot see that: whole, unless memory runs out
    else:
        size = tile or auto_tile(prepared, height, width, pad, cpu_budget)
    if prepared.tile_limit is not None:
        size = min(size, prepared.tile_limit)
    return _within_elements(prepared, size, height, width, pad)


def _run_tile(prepared: PreparedNetwork, reader: RowReader, tile: Tile,
              dtype: np.dtype) -> np.ndarray:
    """The upscaled kept region of one tile, H×W×C of ``dtype`` (float32 in [0, 1] for a
    band that blends)."""
    ctx, kept, s = tile.context, tile.kept, prepared.scale
    x = to_network(reader.rows(ctx.y0, ctx.y1)[:, ctx.x0:ctx.x1], prepared.device)
    y = forward(prepared, x)
    top, left = (kept.y0 - ctx.y0) * s, (kept.x0 - ctx.x0) * s
    y = y[..., top: top + kept.height * s, left: left + kept.width * s]
    return from_network(y, dtype)[0]


def tile_rows(tiles: list[Tile]) -> list[list[Tile]]:
    """Tiles in reading order, grouped into rows (the same core rows)."""
    rows: list[list[Tile]] = []
    for tile in tiles:
        if rows and rows[-1][0].core.y0 == tile.core.y0:
            rows[-1].append(tile)
        else:
            rows.append([tile])
    return rows


def stream_network(prepared: PreparedNetwork, reader: RowReader,
                   shape: tuple[int, int, int], dtype: np.dtype, *, tile: int = 0,
                   tile_pad: int | None = None, progress: Progress = False,
                   source_bits: int | None = None,
                   cpu_budget: int | None = None) -> Iterator[np.ndarray]:
    """Upscale an H×W×C image of ``dtype`` read through ``reader``, a row of tiles at a
    time; yields its output rows, top to bottom, in bands ((rows·s)×(W·s)×C of ``dtype``).

    Only the input rows the current row of tiles sees, and the output rows it (and the
    blend it shares with the next row) writes, are held: memory grows with the tile size
    and the width, not the height. Options as :func:`run_network`; ``cpu_budget`` caps the
    bytes an automatic tile may take on a CPU (where the tiles share the host's memory with
    everything else a streamed image holds).
    """
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
    rows = tile_rows(plan_tiles(Region(0, height, 0, width), size, pad, height, width,
                                multiple, band))
    later = sum(len(row) for row in rows)
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


def _run_row(prepared: PreparedNetwork, reader: RowReader, output: OutputBand,
             pending: deque[Tile], size: int, asked: tuple[int, int | None], pad: int,
             band: int, shape: tuple[int, int, int], bar: TileProgress, later: int) -> int:
    """Run and paste one row's tiles (split smaller after running out of memory); the tile
    side that worked. ``asked``: the tile and CPU budget the run was given."""
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
            size = _smaller_tile(max(core.height, core.width), prepared, failure)
            prepared.tile_limit = size
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
    """Upscale an H×W×C uint8/uint16/float32 image; returns (H·s)×(W·s)×C of the same dtype.

    ``tile`` is the largest tile side in input pixels (0: automatic), ``tile_pad``
    the context around each tile (None: :func:`default_tile_pad`); ``source_bits``
    the pixels' real depth where it is less than their type's (10-bit video). The
    bands of :func:`stream_network`, gathered.
    """
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


def _smaller_tile(failed_side: int, prepared: PreparedNetwork, failure: str) -> int:
    """Half the side that ran out of memory, or a clear error below the floor."""
    smaller = failed_side // 2
    if smaller < MIN_TILE:
        raise UpscaleError(
            f"out of memory on {prepared.device} even with a {failed_side}×{failed_side} tile "
            f"(the smallest tried is {MIN_TILE}; the device said: {failure}); free memory on "
            "the device, use --precision fp16 on a GPU, or run on another device")
    log.info("out of memory with a %d px tile on %s (%s); redoing it as %d px tiles",
             failed_side, prepared.device, failure, smaller)
    return smaller
