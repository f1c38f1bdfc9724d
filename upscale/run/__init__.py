"""Running a network on images: device, precision, tiling, batches of frames.

``prepare_network`` converts a network once for a device and precision;
``run_network`` upscales one image in tiles that fit in memory and merge
without seams; ``run_frames`` upscales a batch of same-sized frames.
"""

from .device import resolve_device
from .engine import DEFAULT_TILE_PAD, default_tile_pad, run_network
from .frames import run_frames
from .precision import resolve_precision
from .prepared import PreparedNetwork, prepare_network

__all__ = [
    "DEFAULT_TILE_PAD",
    "PreparedNetwork",
    "default_tile_pad",
    "prepare_network",
    "resolve_device",
    "resolve_precision",
    "run_frames",
    "run_network",
]
