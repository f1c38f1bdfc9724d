"""One image file in, one image file out: read, upscale, write, with the input's metadata.

Each step is a function of its own, for a folder run overlaps them. A large picture is never
held whole: it is opened, planned, then written a band of rows at a time (same pixels).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import InputError
from .imaging import read_image, write_image
from .imaging.metadata import ImageMetadata, read_metadata
from .imaging.read import check_pixel_count, header_layout, header_size
from .imaging.stream_read import alpha_is_opaque, open_rows
from .imaging.stream_write import streams_to, write_bands
from .limits import DEFAULT_MAX_OUTPUT_PIXELS, DEFAULT_MAX_PIXELS, check_output_image
from .outputs import output_scale, output_size, write_atomically
from .pipeline import Progress, upscale_image
from .run.bands import RowWindow
from .streamed import area_factor, stream_image

if TYPE_CHECKING:
    from .imaging.stream_read import RowSource
    from .run import PreparedNetwork


@dataclass(frozen=True)
class Picture:
    """Pixels and the metadata (ICC profile, EXIF) that go with them to the output."""

    pixels: np.ndarray
    metadata: ImageMetadata

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[1], self.pixels.shape[0]


# Inputs from this many pixels are opened, not decoded, when read; their upscale streams
# when its output has STREAM_FROM_OUTPUT_PIXELS or more. Below, holding the picture costs
# little and the in-memory road is as fast.
STREAM_FROM_INPUT_PIXELS = 2_000_000
STREAM_FROM_OUTPUT_PIXELS = 32_000_000


@dataclass(frozen=True)
class FilePicture:
    """A picture left in its file, to be read a band of rows at a time."""

    source: RowSource
    metadata: ImageMetadata

    @property
    def size(self) -> tuple[int, int]:
        return self.source.width, self.source.height

    def load(self) -> Picture:
        """The whole picture, decoded (for the steps that need it all)."""
        return Picture(read_image(self.source.path, max_pixels=None), self.metadata)


@dataclass(frozen=True)
class StreamedPicture:
    """The upscale of a :class:`FilePicture`, made band by band as it is written."""

    picture: FilePicture
    prepared: PreparedNetwork
    factor: int  # the area shrink after the network (1: none)
    options: dict  # tile, tile_pad, progress

    @property
    def size(self) -> tuple[int, int]:
        width, height = self.picture.size
        scale = self.prepared.scale // self.factor
        return width * scale, height * scale

    @property
    def metadata(self) -> ImageMetadata:
        return self.picture.metadata

    def bands(self) -> Iterator[np.ndarray]:
        """The output rows, top to bottom, made as they are asked for (reading the file afresh)."""
        path = self.picture.source.path
        source = open_rows(path, max_pixels=None)
        if source is None or (source.width, source.height) != self.picture.size:
            raise InputError(f"{path}: changed while it was being upscaled")
        opaque = source.channels == 4 and alpha_is_opaque(source.path)
        window = RowWindow(source.read_next, source.height)
        return stream_image(self.prepared, source, window, factor=self.factor,
                            opaque_alpha=opaque, **self.options)


def read_picture(source: str | os.PathLike, *, max_pixels: int | None = DEFAULT_MAX_PIXELS
                 ) -> Picture | FilePicture:
    """Decode an image file, refusing one larger than ``max_pixels`` from its header; a large
    one that can be read in bands is only opened (:class:`FilePicture`)."""
    size = header_size(Path(source)) if Path(source).is_file() else None
    if size is not None and size[0] * size[1] >= STREAM_FROM_INPUT_PIXELS:
        rows = open_rows(source, max_pixels=max_pixels)
        if rows is not None:
            return FilePicture(rows, read_metadata(source))
    return Picture(read_image(source, max_pixels=max_pixels), read_metadata(source))


def upscale_picture(prepared: PreparedNetwork, picture: Picture | FilePicture, *,
                    scale: float | None = None, tile: int = 0, tile_pad: int | None = None,
                    progress: Progress = False) -> Picture | StreamedPicture:
    """The upscaled picture, metadata kept; a large :class:`FilePicture` at a whole factor of
    the network's scale is upscaled as it is written (:class:`StreamedPicture`)."""
    scale = output_scale(scale, prepared.model)  # the one rule; the CLI passes its result
    if isinstance(picture, FilePicture):
        width, height = picture.size
        out_w, out_h = output_size(width, height, scale)
        factor = area_factor(prepared.scale, width, height, scale)
        if factor is not None and out_w * out_h >= STREAM_FROM_OUTPUT_PIXELS:
            return StreamedPicture(picture, prepared, factor,
                                   dict(tile=tile, tile_pad=tile_pad, progress=progress))
        picture = picture.load()
    pixels = upscale_image(prepared, picture.pixels, scale=scale, tile=tile, tile_pad=tile_pad,
                           progress=progress)
    return Picture(pixels, picture.metadata)


def write_picture(target: str | os.PathLike, picture: Picture | StreamedPicture, *,
                  quality: int | None = None, overwrite: bool = False) -> Path:
    """Encode atomically; a streamed picture is made as it is encoded."""
    if isinstance(picture, Picture):
        return write_image(target, picture.pixels, quality=quality, overwrite=overwrite,
                           metadata=picture.metadata)
    target = Path(target)
    width, height = picture.size
    source = picture.picture.source
    check_output_image(target, width, height, channels=source.channels,  # before the work
                       sample_bytes=source.dtype.itemsize, source=source.path)
    if not streams_to(target.suffix):  # a format libvips does not write: whole, as before
        pixels = np.concatenate(list(picture.bands()))
        pixels = pixels[:, :, 0] if pixels.shape[2] == 1 else pixels
        return write_image(target, pixels, quality=quality, overwrite=overwrite,
                           metadata=picture.metadata)
    return write_atomically(target, lambda temporary: write_bands(
        temporary, picture.bands(), width, height, quality=quality, metadata=picture.metadata),
        overwrite=overwrite)


def check_output(source: str | os.PathLike, target: str | os.PathLike, scale: float, *,
                 max_output_pixels: int | None = DEFAULT_MAX_OUTPUT_PIXELS,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS) -> None:
    """Refuse, from ``source``'s header and before any work, an input over ``max_pixels``,
    or an output at ``scale`` that its format cannot hold, over ``max_output_pixels``, or
    too large for its disk."""
    if Path(source).is_file():
        check_pixel_count(Path(source), max_pixels)
    layout = header_layout(Path(source))
    if layout is None:
        return  # decoded whole, and checked by what decodes it
    width, height, channels, sample_bytes = layout
    out_w, out_h = output_size(width, height, scale)
    check_output_image(Path(target), out_w, out_h, channels=channels, sample_bytes=sample_bytes,
                       max_output_pixels=max_output_pixels, source=Path(source))


def upscale_file(prepared: PreparedNetwork, source: str | os.PathLike,
                 target: str | os.PathLike, *, scale: float | None = None, tile: int = 0,
                 tile_pad: int | None = None, quality: int | None = None,
                 overwrite: bool = False, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                 progress: Progress = False, picture: Picture | FilePicture | None = None
                 ) -> Picture | StreamedPicture:
    """Read ``source`` (unless given as ``picture``), upscale it, write ``target``; the result."""
    if picture is None:
        picture = read_picture(source, max_pixels=max_pixels)
    result = upscale_picture(prepared, picture, scale=scale, tile=tile, tile_pad=tile_pad,
                             progress=progress)
    write_picture(target, result, quality=quality, overwrite=overwrite)
    return result
