"""An architecture's own advice on tiling (spandrel's ``ModelTiling``), weighed against ours.

Our tiles are exact wherever the context covers the measured receptive radius
(:mod:`upscale.archs.receptive`), so "discouraged" only matters where they are not:
SwinIR is discouraged by spandrel, yet its window-aligned tiles reproduce the whole
image, and it gets no warning. A network that tiles or resizes the image itself
("internal", e.g. DDColor) computes something else on a tile, so it runs whole unless
the user asks for tiles or memory runs out.
"""

from __future__ import annotations

import math

from ..model import ModelDescriptor
from ..notes import note
from .engine import default_tile_pad
from .prepared import PreparedNetwork

# Above this many times the work of the pixels kept, a tile is mostly context.
SMALL_TILE_OVERHEAD = 4.0

def tiling_advice(model: ModelDescriptor, tile: int, pad: int,
                  image_side: int | None = None) -> str | None:
    """One line when the tiles asked for go against the architecture's advice, else None.

    ``pad`` is the context around each tile; ``image_side`` the image's longer side,
    when known (a tile at least that big cuts nothing).
    """
    if tile <= 0 or model.tiling == "supported" or tile >= (image_side or math.inf):
        return None
    if model.tiling == "internal":
        return (f"{model.architecture} tiles the image itself; --tile {tile} cuts it first, "
                "which changes what it computes; --tile 0 runs it whole")
    if pad >= math.ceil(model.receptive_radius):
        return None  # measured: these tiles see all the network sees
    return (f"{model.architecture} relies on the whole image and its authors discourage tiling "
            f"it; --tile {tile} with {pad} px of context blends the seams, not exact; "
            "--tile 0 runs it whole when it fits in memory")


def note_tile_choice(prepared: PreparedNetwork, tile: int, tile_pad: int | None,
                     image_side: int | None = None) -> None:
    """A note where the user's ``--tile`` goes against the architecture's advice or is
    mostly context; every local road (one image, a video, a folder) asks here once. (That
    a network which tiles the image itself runs whole is the engine's rule,
    :func:`~.engine.tile_side`, for every road.)"""
    pad = default_tile_pad(prepared) if tile_pad is None else tile_pad
    if advice := tiling_advice(prepared.model, tile, pad, image_side):
        note(advice)
    if tile > 0 and (overhead := ((tile + 2 * pad) / tile) ** 2) >= SMALL_TILE_OVERHEAD:
        note(f"--tile {tile} with {pad} px of context on each side does about {overhead:.0f}× "
             "the work of untiled; --tile 0 picks the largest tile that fits in memory")
