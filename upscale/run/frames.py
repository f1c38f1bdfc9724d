"""Batches of same-sized frames (video), several per forward pass to keep a GPU busy."""

from __future__ import annotations

import numpy as np

from ..errors import UpscaleError
from ..limits import frames_per_batch
from .engine import bytes_per_pixel, run_network
from .forward import PrecisionSwitched, forward
from .memory import MAX_ELEMENTS, memory_budget, unless_out_of_memory
from .pixels import check_pixels, from_network, to_network
from .prepared import PreparedNetwork


def batch_size(prepared: PreparedNetwork, frames: np.ndarray) -> int:
    """How many frames to run per forward pass; 0 when one frame needs tiling."""
    _n, height, width, _c = frames.shape
    per_frame = height * width * bytes_per_pixel(prepared)
    fits = int(memory_budget(prepared.device) // per_frame)
    multiple = prepared.model.size.multiple_of
    elements = prepared.memory_facts().elements_per_pixel * (height + multiple) * (width + multiple)
    fits = min(fits, int(MAX_ELEMENTS // elements))
    if fits < 1:
        return 0
    limit = frames_per_batch(prepared.device.type)
    if prepared.batch_limit is not None:
        limit = min(limit, prepared.batch_limit)
    return min(fits, limit, len(frames))


def run_frames(prepared: PreparedNetwork, frames: np.ndarray, *, tile: int = 0,
               tile_pad: int | None = None, source_bits: int | None = None) -> np.ndarray:
    """Upscale N×H×W×C frames; returns N×(H·s)×(W·s)×C of the same dtype."""
    check_pixels(frames, prepared.model.in_channels, what="frames")
    if frames.ndim != 4:
        raise UpscaleError(f"run_frames takes N×H×W×C frames, not shape {frames.shape}")
    prepared = prepared.for_pixels(frames.dtype, source_bits)
    count, height, width, channels = frames.shape
    s = prepared.scale
    output = np.empty((count, height * s, width * s, channels), dtype=frames.dtype)
    batch = 0 if tile else batch_size(prepared, frames)
    start = 0
    while start < count:
        if batch == 0:  # one frame at a time, through the tiling engine
            output[start] = run_network(prepared, frames[start], tile=tile, tile_pad=tile_pad,
                                        source_bits=source_bits)
            start += 1
            continue
        stop = min(count, start + batch)
        try:
            result, failure = unless_out_of_memory(prepared.device, _forward_frames, prepared,
                                                   frames[start:stop])
        except PrecisionSwitched:  # now fp32: twice the bytes per frame
            batch = min(batch, batch_size(prepared, frames))
            continue
        if failure:
            batch = (stop - start) // 2
            prepared.batch_limit = batch
            continue
        output[start:stop] = result
        start = stop
    return output



def _forward_frames(prepared: PreparedNetwork, frames: np.ndarray) -> np.ndarray:
    return from_network(forward(prepared, to_network(frames, prepared.device)), frames.dtype)
