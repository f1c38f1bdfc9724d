"""The tiling engine: an image in, the upscaled image out, in bounded memory.

Tiles are cut with context (see :mod:`.tiles`), run one at a time, and their
cores written straight into the output array, which has the input's dtype. When
the device runs out of memory the tile size is halved and only the tile that
failed is split and redone; finished tiles stay where they are. The size that
worked is kept on the prepared network for the rest of the run.
"""

from __future__ import annotations

import logging
import math
from collections import deque

import numpy as np
import torch

from ..errors import UpscaleError
from .forward import PrecisionSwitched, forward
from .memory import (
    MAX_ELEMENTS,
    MIN_TILE,
    NetworkFacts,
    element_cap_side,
    enough_tile,
    is_out_of_memory,
    largest_tile,
    memory_budget,
    probe_network,
    release_cached,
)
from .pixels import check_pixels, from_network, to_network
from .prepared import PreparedNetwork
from .progress import Progress, TileProgress
from .tiles import Region, Tile, plan_tiles

log = logging.getLogger(__name__)

# Context around each tile, in input pixels, for networks that see farther than this
# (RRDBNet's receptive radius is ~350 px). RealESRGAN x4plus, Set5 baby at 128×128, tile 64,
# tiled vs whole image: pad 32 -> 49.0 dB / 30 levels max; 40 -> 54.6 dB / 15; 48 -> 57.5 dB
# / 10 (bench/tiling.py measures it). Networks that see less (SRVGGNetCompact: one pixel per
# conv) get exactly their receptive radius, which makes tiling exact.
DEFAULT_TILE_PAD = 48


def network_facts(prepared: PreparedNetwork) -> NetworkFacts:
    """Activation size and receptive radius, probed once per prepared network.

    The probe runs the caller's plain network where it lives: its layers are
    modules the hooks can see, which a fused fast module's may not be.
    """
    if "probe" not in prepared.facts:
        network = prepared.network
        weight = next(network.parameters(), None)
        device = weight.device if weight is not None else torch.device("cpu")
        dtype = weight.dtype if weight is not None else torch.float32
        prepared.facts["probe"] = probe_network(
            network, network.in_channels, getattr(network, "size_multiple", 1), device, dtype)
    return prepared.facts["probe"]


def default_tile_pad(prepared: PreparedNetwork) -> int:
    """Enough context for exact tiles when the network sees little, else the measured default."""
    return min(math.ceil(network_facts(prepared).receptive_radius), DEFAULT_TILE_PAD)


def bytes_per_pixel(prepared: PreparedNetwork) -> float:
    network = prepared.network
    return network_facts(prepared).bytes_per_pixel(prepared.dtype, network.in_channels,
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
    multiple = getattr(prepared.network, "size_multiple", 1)
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


def _check_tile_options(tile: int, tile_pad: int | None) -> None:
    if tile < 0:
        raise UpscaleError(f"--tile must be 0 (automatic) or a positive size, not {tile}")
    if tile_pad is not None and tile_pad < 0:
        raise UpscaleError(f"--tile-pad must be 0 or more, not {tile_pad}")


def _run_tile(prepared: PreparedNetwork, image: np.ndarray, tile: Tile) -> np.ndarray:
    """The upscaled core of one tile, as H×W×C of the image's dtype."""
    ctx, core, s = tile.context, tile.core, prepared.scale
    x = to_network(image[ctx.y0:ctx.y1, ctx.x0:ctx.x1], prepared.device)
    y = forward(prepared, x)
    top, left = (core.y0 - ctx.y0) * s, (core.x0 - ctx.x0) * s
    y = y[..., top: top + core.height * s, left: left + core.width * s]
    return from_network(y, image.dtype)[0]


def run_network(prepared: PreparedNetwork, image: np.ndarray, *, tile: int = 0,
                tile_pad: int | None = None, progress: Progress = False) -> np.ndarray:
    """Upscale an H×W×C uint8/uint16/float32 image; returns (H·s)×(W·s)×C of the same dtype.

    ``tile`` is the largest tile side in input pixels (0: automatic), ``tile_pad``
    the context around each tile (None: :func:`default_tile_pad`).
    """
    network = prepared.network
    check_pixels(image, network.in_channels)
    prepared = prepared.for_pixels(image.dtype)
    if image.ndim != 3:
        raise UpscaleError(f"run_network takes one H×W×C image, not shape {image.shape}; "
                           "use run_frames for a batch")
    _check_tile_options(tile, tile_pad)
    height, width, channels = image.shape
    s = prepared.scale
    pad = default_tile_pad(prepared) if tile_pad is None else tile_pad
    size = tile_side(prepared, tile, height, width, pad)
    multiple = getattr(network, "size_multiple", 1)
    output = np.empty((height * s, width * s, channels), dtype=image.dtype)

    pending = deque(plan_tiles(Region(0, height, 0, width), size, pad, height, width, multiple))
    with TileProgress(progress, len(pending)) as bar:
        while pending:
            current = pending.popleft()
            core = current.core
            if max(core.height, core.width) > size:  # planned before the tile size shrank
                pending.extendleft(reversed(plan_tiles(core, size, pad, height, width, multiple)))
                continue
            failure = None
            try:
                result = _run_tile(prepared, image, current)
            except PrecisionSwitched:  # now fp32: twice the bytes, so size the tiles again
                size = min(size, tile_side(prepared, tile, height, width, pad))
                pending.appendleft(current)
                continue
            except Exception as error:  # noqa: BLE001 - only out-of-memory is handled
                if not is_out_of_memory(error):
                    raise
                failure = str(error).splitlines()[0] if str(error) else type(error).__name__
            if failure is not None:  # outside the except block, so the failed tensors are freed
                release_cached(prepared.device)
                size = _smaller_tile(max(core.height, core.width), prepared, failure)
                prepared.tile_limit = size
                pending.appendleft(current)
                continue
            output[core.y0 * s: core.y1 * s, core.x0 * s: core.x1 * s] = result
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
