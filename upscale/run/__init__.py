"""Running a network on images: device, precision, tiling, batches of frames.

``prepare_network`` converts a network once for a device and precision;
``run_network`` upscales one image in tiles that fit in memory and merge
without seams; ``run_frames`` upscales a batch of same-sized frames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .device import resolve_device
    from .engine import DEFAULT_TILE_PAD, default_tile_pad, run_network
    from .frames import run_frames
    from .precision import resolve_precision
    from .prepared import PreparedNetwork, prepare_network

# Imported on first use, not here: each of these imports torch, and code that only
# needs the torch-free ``run.progress`` (the folder report of a ``--ray`` driver,
# which must stay small in memory) should not pay for torch's 280 MB.
_LAZY = {
    "DEFAULT_TILE_PAD": ".engine",
    "PreparedNetwork": ".prepared",
    "default_tile_pad": ".engine",
    "prepare_network": ".prepared",
    "resolve_device": ".device",
    "resolve_precision": ".precision",
    "run_frames": ".frames",
    "run_network": ".engine",
}


__getattr__ = lazy_exports(__name__, _LAZY)


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
