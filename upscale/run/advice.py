"""An architecture's own advice on tiling (spandrel's ``ModelTiling``), weighed against ours:
our tiles are exact wherever the context covers the measured receptive radius."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..model import ModelDescriptor
from ..notes import note
from .engine import default_tile_pad
from .prepared import PreparedNetwork, prepare_network

if TYPE_CHECKING:
    from ..request import Request

SMALL_TILE_OVERHEAD = 4.0  # times the work of the pixels kept: the tile is mostly context


def tiling_advice(model: ModelDescriptor, tile: int, pad: int,
                  image_side: int | None = None) -> str | None:
    """One line when these tiles go against the architecture's advice, else None."""
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
    """A note where the user's ``--tile`` goes against the advice or is mostly context."""
    pad = default_tile_pad(prepared) if tile_pad is None else tile_pad
    if advice := tiling_advice(prepared.model, tile, pad, image_side):
        note(advice)
    if tile > 0 and (overhead := ((tile + 2 * pad) / tile) ** 2) >= SMALL_TILE_OVERHEAD:
        note(f"--tile {tile} with {pad} px of context on each side does about {overhead:.0f}× "
             "the work of untiled; --tile 0 picks the largest tile that fits in memory")


def prepare_for(network: ModelDescriptor, options: Request,
                image_side: int | None = None) -> PreparedNetwork:
    """The network on the request's device and precision, with a note on its tile if needed."""
    prepared = prepare_network(network, device=options.device, precision=options.precision)
    note_tile_choice(prepared, options.tile, options.tile_pad, image_side)
    return prepared
