"""The tiling engine: an image in, the upscaled image out, in bounded memory.

Tiles are cut with context (see :mod:`.tiles`), run one at a time, and their
cores written straight into the output array, which has the input's dtype;
where the context is shorter than the network's reach, neighbouring tiles are
blended across a band instead (the output starts at zero and each tile adds its
weighted share). When
the device runs out of memory the tile size is halved and only the tile that
failed is split and redone; finished tiles stay where they are. The size that
worked is kept on the prepared network for the rest of the run.
"""

from __future__ import annotations

import logging
import math
from collections import deque

import numpy as np

from ..errors import UpscaleError
from ..limits import check_tile_options
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
from .tiles import Region, Tile, plan_tiles, tile_weights

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


def auto_tile(prepared: PreparedNetwork, height: int, width: int, pad: int) -> int:
    """The tile side for ``tile=0``: the whole image if it fits, else the largest that fits."""
    budget = memory_budget(prepared.device)
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


def tile_side(prepared: PreparedNetwork, tile: int, height: int, width: int, pad: int) -> int:
    """The tile side to start an image with: the user's (or the automatic) one, no larger than
    what worked after running out of memory, and small enough that no activation of a tile
    exceeds :data:`~.memory.MAX_ELEMENTS`, whatever the memory."""
    size = tile or auto_tile(prepared, height, width, pad)
    if prepared.tile_limit is not None:
        size = min(size, prepared.tile_limit)
    return _within_elements(prepared, size, height, width, pad)


def _run_tile(prepared: PreparedNetwork, image: np.ndarray, tile: Tile) -> np.ndarray:
    """The upscaled kept region of one tile: H×W×C of the image's dtype, or float32 in
    [0, 1] when the tile is blended with its neighbours."""
    ctx, kept, s = tile.context, tile.kept, prepared.scale
    x = to_network(image[ctx.y0:ctx.y1, ctx.x0:ctx.x1], prepared.device)
    y = forward(prepared, x)
    top, left = (kept.y0 - ctx.y0) * s, (kept.x0 - ctx.x0) * s
    y = y[..., top: top + kept.height * s, left: left + kept.width * s]
    blended = kept != tile.core
    return from_network(y, np.float32 if blended else image.dtype)[0]


def _paste(output: np.ndarray, tile: Tile, result: np.ndarray, scale: int) -> None:
    """Write a tile's result; a blended tile adds its weighted share to what is there."""
    kept = tile.kept
    target = output[kept.y0 * scale: kept.y1 * scale, kept.x0 * scale: kept.x1 * scale]
    if kept == tile.core:
        target[...] = result
        return
    share = result * tile_weights(tile, scale)[:, :, None]
    if output.dtype == np.float32:
        target += share
        return
    top = float(np.iinfo(output.dtype).max)
    target[...] = np.clip(np.rint(target + share * top), 0, top)


def run_network(prepared: PreparedNetwork, image: np.ndarray, *, tile: int = 0,
                tile_pad: int | None = None, progress: Progress = False,
                source_bits: int | None = None) -> np.ndarray:
    """Upscale an H×W×C uint8/uint16/float32 image; returns (H·s)×(W·s)×C of the same dtype.

    ``tile`` is the largest tile side in input pixels (0: automatic), ``tile_pad``
    the context around each tile (None: :func:`default_tile_pad`); ``source_bits``
    the pixels' real depth where it is less than their type's (10-bit video).
    """
    check_pixels(image, prepared.model.in_channels)
    prepared = prepared.for_pixels(image.dtype, source_bits)
    if image.ndim != 3:
        raise UpscaleError(f"run_network takes one H×W×C image, not shape {image.shape}; "
                           "use run_frames for a batch")
    check_tile_options(tile, tile_pad)
    height, width, channels = image.shape
    s = prepared.scale
    pad = default_tile_pad(prepared) if tile_pad is None else tile_pad
    size = tile_side(prepared, tile, height, width, pad)
    multiple = prepared.model.size.multiple_of
    band = blend_band(prepared, pad)
    output = np.zeros((height * s, width * s, channels), dtype=image.dtype)  # blends add to it

    pending = deque(plan_tiles(Region(0, height, 0, width), size, pad, height, width, multiple,
                               band))
    with TileProgress(progress, len(pending)) as bar:
        while pending:
            current = pending.popleft()
            core = current.core
            if max(core.height, core.width) > size:  # planned before the tile size shrank
                pending.extendleft(reversed(plan_tiles(core, size, pad, height, width, multiple,
                                                       band, current.bands)))
                continue
            try:
                result, failure = unless_out_of_memory(prepared.device, _run_tile, prepared,
                                                       image, current)
            except PrecisionSwitched:  # now fp32: twice the bytes, so size the tiles again
                size = min(size, tile_side(prepared, tile, height, width, pad))
                pending.appendleft(current)
                continue
            if failure:
                size = _smaller_tile(max(core.height, core.width), prepared, failure)
                prepared.tile_limit = size
                pending.appendleft(current)
                continue
            _paste(output, current, result, s)
            bar.advance(len(pending))
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
