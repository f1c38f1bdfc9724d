"""A prepared network as a function of frame batches, at any output scale."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..imaging.resize import resize_to
from ..outputs import output_size

if TYPE_CHECKING:
    from ..run import PreparedNetwork


def frame_upscaler(prepared: PreparedNetwork, scale: float, *, tile: int = 0,
                   tile_pad: int | None = None):
    """``frames (N,H,W,3) -> (N,H*s,W*s,3)``, batched through ``run_frames`` when untiled.

    ``scale`` is the run's output scale (:func:`upscale.outputs.output_scale`); one other
    than the network's resizes the network output (area averaging when shrinking),
    exactly as for images.
    """
    from ..run import run_frames, run_network

    def upscale_frames(frames: np.ndarray, source_bits: int | None = None) -> np.ndarray:
        """``source_bits``: the video's depth, which decides fp16 or fp32 under ``auto``."""
        height, width = frames.shape[1:3]
        target = output_size(width, height, scale)
        if tile == 0:
            raw = run_frames(prepared, frames, source_bits=source_bits)
        else:
            raw = [run_network(prepared, frame, tile=tile, tile_pad=tile_pad,
                                   source_bits=source_bits) for frame in frames]
        return np.stack([resize_to(frame, *target) for frame in raw])

    return upscale_frames
