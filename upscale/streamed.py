"""What :func:`~upscale.pipeline.upscale_image` does, to a picture read a band of rows at a
time, so that nothing its size is ever held: alpha is a second run of the same tiles beside
the colour's, and a scale below the network's by a whole factor an area average of blocks a
band holds (other scales reach across bands: the caller upscales those whole)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from .imaging._cv2 import cv2
from .imaging.channels import bleed_transparent_colour, gray_to_rgb, rgb_to_gray
from .outputs import output_size
from .pipeline import Progress, check_colour_channels

if TYPE_CHECKING:
    from .imaging.stream_read import RowSource
    from .run import PreparedNetwork
    from .run.bands import RowWindow

# The bleed's pyramid halves rows in pairs; a band that starts and ends on multiples of
# 2⁸ rows pairs them as the whole picture does for its first eight levels, and a margin
# as deep keeps the coarser levels' difference in transparent areas far from any edge.
BLEED_ALIGN = 256
# What a tile's activations may take on a CPU when streaming: a streamed image holds
# little else, so its tiles set its peak. realesr-animevideov3 ×4, 3000×2000 in
# (bench/bigimage.py): 256 MB gave 430 px tiles and 0.84-0.88 GB; 128 MB about 300 px tiles,
# a 0.77 GB peak (half of it torch and the CPU engine) and 1.02× the in-memory road's time.
STREAMED_TILE_BYTES = 128 << 20


def area_factor(network_scale: int, width: int, height: int, scale: float) -> int | None:
    """The whole factor by which the network's output shrinks to ``scale`` (1: it is the
    network's own scale), or None where the resize cannot be made a band at a time."""
    target_w, target_h = output_size(width, height, scale)
    for factor in range(1, network_scale + 1):
        if network_scale % factor == 0 and (target_w * factor, target_h * factor) == (
                width * network_scale, height * network_scale):
            return factor
    return None


class _RowView:
    """What one tile run reads of a window shared with another (colour and alpha, in step:
    rows are dropped once each reader's ``released`` is past them): ``transform`` of rows
    ``y0:y1``, cached for the row's other tiles (with ``margin`` rows around them, aligned
    to BLEED_ALIGN)."""

    def __init__(self, window: RowWindow, released: list[int], index: int,
                 transform: Callable[[np.ndarray], np.ndarray], margin: int = 0) -> None:
        self.window, self.released, self.index = window, released, index
        self.transform, self.margin = transform, margin
        self.cached: tuple[int, int, np.ndarray] | None = None

    def _span(self, y0: int, y1: int) -> tuple[int, int]:
        if not self.margin:
            return y0, y1
        height = self.window.height
        top = max(0, (y0 - self.margin) // BLEED_ALIGN * BLEED_ALIGN)
        bottom = min(height, -(-(y1 + self.margin) // BLEED_ALIGN) * BLEED_ALIGN)
        return top, bottom

    def rows(self, y0: int, y1: int) -> np.ndarray:
        top, bottom = self._span(y0, y1)
        if self.cached is None or self.cached[:2] != (top, bottom):
            self.cached = None  # before the new rows are made
            self.cached = (top, bottom, self.transform(self.window.rows(top, bottom)))
        return self.cached[2][y0 - top: y1 - top]

    def release(self, y: int) -> None:
        self.released[self.index] = self._span(y, y)[0]
        self.window.release(min(self.released))


def _network_input(in_channels: int) -> Callable[[np.ndarray], np.ndarray]:
    """Rows of one plane (gray, or colour) as the network takes them."""
    def fit(plane: np.ndarray) -> np.ndarray:
        if plane.ndim == 2:
            plane = plane[:, :, None]
        if plane.shape[2] == 1 and in_channels == 3:
            return gray_to_rgb(plane[:, :, 0])
        check_colour_channels(plane.shape[2], in_channels)
        return plane
    return fit


def _plane_bands(prepared: PreparedNetwork, reader: _RowView, shape: tuple[int, int],
                 dtype: np.dtype, gray: bool, factor: int, **run_options) -> Iterator[np.ndarray]:
    """Output bands of one plane, as H×W×C (C=1 for gray), shrunk by ``factor``."""
    from .run.engine import stream_network  # imports torch

    in_channels = prepared.model.in_channels
    for band in stream_network(prepared, reader, (*shape, in_channels), dtype, **run_options):
        if gray and in_channels == 3:
            band = rgb_to_gray(band)[:, :, None]
        if factor > 1:
            rows, cols = band.shape[0] // factor, band.shape[1] // factor
            band = cv2.resize(band, (cols, rows), interpolation=cv2.INTER_AREA).reshape(
                rows, cols, -1)
        yield band


def stream_image(prepared: PreparedNetwork, source: RowSource, window: RowWindow, *,
                 factor: int, opaque_alpha: bool, tile: int = 0, tile_pad: int | None = None,
                 progress: Progress = False) -> Iterator[np.ndarray]:
    """The upscaled rows of ``source`` (read through ``window``), band by band, as
    :func:`~upscale.pipeline.upscale_image` would give them. ``factor`` is
    :func:`area_factor`'s; ``opaque_alpha``: an alpha that stays opaque, not upscaled."""
    from .run.engine import default_tile_pad

    channels, dtype = source.channels, source.dtype
    has_alpha = channels in (2, 4)
    colour_channels = channels - has_alpha
    gray = colour_channels == 1
    shape = (source.height, source.width)
    fit = _network_input(prepared.model.in_channels)
    released = [0, 0] if has_alpha and not opaque_alpha else [0]
    if has_alpha and not opaque_alpha:  # transparent colour bled from visible pixels
        pad = default_tile_pad(prepared) if tile_pad is None else tile_pad
        colour = _RowView(window, released, 0, lambda rows: fit(bleed_transparent_colour(
            rows[:, :, :-1], rows[:, :, -1])), BLEED_ALIGN + pad)
    else:
        colour = _RowView(window, released, 0, lambda rows: fit(rows[:, :, :colour_channels]))
    run_options = dict(tile=tile, tile_pad=tile_pad, cpu_budget=STREAMED_TILE_BYTES)
    colour_bands = _plane_bands(prepared, colour, shape, dtype, gray, factor,
                                progress=progress, **run_options)
    if not has_alpha:
        yield from colour_bands
        return
    if opaque_alpha:
        top = np.iinfo(dtype).max
        for band in colour_bands:
            yield np.concatenate([band, np.full((*band.shape[:2], 1), top, dtype)], axis=2)
        return
    alpha = _RowView(window, released, 1, lambda rows: fit(rows[:, :, -1]))
    alpha_bands = _plane_bands(prepared, alpha, shape, dtype, True, factor, **run_options)
    for colour_band, alpha_band in zip(colour_bands, alpha_bands, strict=True):
        yield np.concatenate([colour_band, alpha_band], axis=2)
