"""One image file in, one image file out: read, upscale, write, with the input's metadata.

The single-image command, the folder runner and the Ray workers all do these
three steps; they live here once. :func:`upscale_file` runs them in a row; a
folder run overlaps them across files, so each step is also a function of its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .imaging import read_image, write_image
from .imaging.metadata import ImageMetadata, read_metadata
from .limits import DEFAULT_MAX_PIXELS
from .pipeline import Progress, upscale_image

if TYPE_CHECKING:
    from .run import PreparedNetwork


@dataclass(frozen=True)
class Picture:
    """Pixels and the metadata (ICC profile, EXIF) that go with them to the output."""

    pixels: np.ndarray
    metadata: ImageMetadata


def read_picture(source: str | os.PathLike, *, max_pixels: int | None = DEFAULT_MAX_PIXELS
                 ) -> Picture:
    """Decode an image file, refusing one larger than ``max_pixels`` from its header."""
    return Picture(read_image(source, max_pixels=max_pixels), read_metadata(source))


def upscale_picture(prepared: PreparedNetwork, picture: Picture, *, scale: float | None = None,
                    tile: int = 0, tile_pad: int | None = None,
                    progress: Progress = False) -> Picture:
    """The upscaled picture (default scale: the model's output scale); metadata kept."""
    pixels = upscale_image(prepared, picture.pixels, scale=scale, tile=tile, tile_pad=tile_pad,
                           progress=progress)
    return Picture(pixels, picture.metadata)


def write_picture(target: str | os.PathLike, picture: Picture, *, quality: int | None = None,
                  overwrite: bool = False) -> Path:
    """Encode atomically (a temporary name, renamed when complete)."""
    return write_image(target, picture.pixels, quality=quality, overwrite=overwrite,
                       metadata=picture.metadata)


def upscale_file(prepared: PreparedNetwork, source: str | os.PathLike,
                 target: str | os.PathLike, *, scale: float | None = None, tile: int = 0,
                 tile_pad: int | None = None, quality: int | None = None,
                 overwrite: bool = False, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                 progress: Progress = False, picture: Picture | None = None) -> Picture:
    """Read ``source``, upscale it and write ``target``; returns what was written.

    ``picture`` is ``source`` already read (the CLI reads it before loading the
    model, so a bad input fails in a fraction of a second).
    """
    if picture is None:
        picture = read_picture(source, max_pixels=max_pixels)
    result = upscale_picture(prepared, picture, scale=scale, tile=tile, tile_pad=tile_pad,
                             progress=progress)
    write_picture(target, result, quality=quality, overwrite=overwrite)
    return result


__all__ = ["Picture", "read_picture", "upscale_file", "upscale_picture", "write_picture"]
