"""Running a network on images: device, precision, tiling, batches of frames (names are
imported on first use, so the torch-free ``run.progress`` costs no torch)."""

from __future__ import annotations

from ..lazy import lazy_exports

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

__all__ = [*_LAZY]


__getattr__ = lazy_exports(__name__, _LAZY)
