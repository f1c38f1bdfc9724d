"""Limits that protect the user's machine, in a module light enough for the CLI to import.

An image's decoded size is known from its header; above ``DEFAULT_MAX_PIXELS`` input
pixels (200 MP, a ×4 result of 3.2 gigapixels) it is refused before any large allocation,
and ``--max-pixels`` raises the limit for a machine that has the memory.
"""

from .errors import UpscaleError

DEFAULT_MAX_PIXELS = 200_000_000


def check_tile_options(tile: int, tile_pad: int | None) -> None:
    """``--tile`` 0 means automatic; a tile and its context are never negative."""
    if tile < 0:
        raise UpscaleError(f"--tile must be 0 (automatic) or a size in pixels, not {tile}")
    if tile_pad is not None and tile_pad < 0:
        raise UpscaleError(f"--tile-pad must be 0 or more, not {tile_pad}")
