"""Batches of small, same-sized frames (video), several per forward pass where that pays.

On a GPU one forward over a batch of frames keeps the device busy where one
small frame would not. On a CPU a batch is no faster than the same frames one
by one (each convolution already uses every core), so it only costs memory:
there the batch is one frame. Frames too big for memory go through the tiling
engine one at a time.
"""

from __future__ import annotations

import numpy as np

from ..errors import UpscaleError
from .engine import bytes_per_pixel, run_network
from .forward import forward
from .memory import is_out_of_memory, memory_budget, release_cached
from .pixels import check_pixels, from_network, to_network
from .prepared import PreparedNetwork

MAX_GPU_BATCH = 8


def batch_size(prepared: PreparedNetwork, frames: np.ndarray) -> int:
    """How many frames to run per forward pass; 0 when one frame needs tiling."""
    _n, height, width, _c = frames.shape
    per_frame = height * width * bytes_per_pixel(prepared)
    fits = int(memory_budget(prepared.device) // per_frame)
    if fits < 1:
        return 0
    limit = 1 if prepared.device.type == "cpu" else MAX_GPU_BATCH
    return min(fits, limit, len(frames))


def run_frames(prepared: PreparedNetwork, frames: np.ndarray, *, tile: int = 0,
               tile_pad: int | None = None) -> np.ndarray:
    """Upscale N×H×W×C frames; returns N×(H·s)×(W·s)×C of the same dtype."""
    check_pixels(frames, prepared.network.in_channels, what="frames")
    if frames.ndim != 4:
        raise UpscaleError(f"run_frames takes N×H×W×C frames, not shape {frames.shape}")
    count, height, width, channels = frames.shape
    s = prepared.scale
    output = np.empty((count, height * s, width * s, channels), dtype=frames.dtype)
    batch = 0 if tile else batch_size(prepared, frames)
    start = 0
    while start < count:
        if batch == 0:  # one frame at a time, through the tiling engine
            output[start] = run_network(prepared, frames[start], tile=tile, tile_pad=tile_pad)
            start += 1
            continue
        stop = min(count, start + batch)
        try:
            result = from_network(forward(prepared, to_network(frames[start:stop],
                                                               prepared.device)), frames.dtype)
        except Exception as error:  # noqa: BLE001 - only out-of-memory is handled
            if not is_out_of_memory(error):
                raise
            result = None
        if result is None:
            release_cached(prepared.device)
            batch //= 2
            continue
        output[start:stop] = result
        start = stop
    return output
