"""Image-level upscaling: any image adapted to what the network takes (RGB) and back: gray
expanded and reduced, alpha upscaled on its own after transparent colour is bled outward
(no halos), bit depth kept, and the result resized to the requested scale."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .errors import InputError
from .imaging.channels import bleed_transparent_colour, gray_to_rgb, rgb_to_gray, split_alpha
from .imaging.resize import resize_to
from .outputs import output_scale, output_size

if TYPE_CHECKING:
    from .run import PreparedNetwork

Progress = bool | Callable[[int, int], None]


def _max_value(dtype: np.dtype) -> float:
    return {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(np.dtype(dtype), 1.0)


def _run_colour(prepared: PreparedNetwork, colour: np.ndarray, **run_options) -> np.ndarray:
    """Run the network on 2-D gray or HxWx3 colour, returning the same layout."""
    from .run import run_network  # lazy: folders plan and name without torch

    in_channels = prepared.model.in_channels
    if colour.ndim == 2:
        if in_channels == 1:
            return run_network(prepared, colour[:, :, None], **run_options)[:, :, 0]
        return rgb_to_gray(run_network(prepared, gray_to_rgb(colour), **run_options))
    check_colour_channels(colour.shape[2], in_channels)
    return run_network(prepared, colour, **run_options)


def check_colour_channels(channels: int, in_channels: int) -> None:
    """An image's colour channels are what the network takes (gray is expanded before)."""
    if channels != in_channels:
        raise InputError(
            f"the image has {channels} colour channels but the network takes {in_channels}")


def upscale_image(prepared: PreparedNetwork, image: np.ndarray, *, scale: float | None = None,
                  tile: int = 0, tile_pad: int | None = None,
                  progress: Progress = False) -> np.ndarray:
    """Upscale an RGB(A)/gray uint8/uint16/float32 image by ``scale`` (default: the network's)."""
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
        raise InputError(f"cannot upscale an array of shape {image.shape}")
    if image.dtype not in (np.uint8, np.uint16, np.float32):
        raise InputError(
            f"cannot upscale pixels of type {image.dtype}; use uint8, uint16 or float32")
    scale = output_scale(scale, prepared.model)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    height, width = image.shape[:2]
    target_w, target_h = output_size(width, height, scale)
    run_options = dict(tile=tile, tile_pad=tile_pad, progress=progress)

    colour, alpha = split_alpha(image)
    if colour.ndim == 3 and colour.shape[2] == 1:
        colour = colour[:, :, 0]
    opaque = alpha is not None and alpha.min() >= _max_value(alpha.dtype)
    if alpha is not None and not opaque:
        colour = bleed_transparent_colour(colour, alpha)
    result = resize_to(_run_colour(prepared, colour, **run_options), target_w, target_h)
    if alpha is None:
        return result
    if opaque:  # nothing to upscale but a constant
        new_alpha = np.full((target_h, target_w), alpha.max(), dtype=alpha.dtype)
    else:
        new_alpha = resize_to(_run_colour(prepared, alpha, **run_options), target_w, target_h)
    if result.ndim == 2:
        result = result[:, :, None]
    return np.concatenate([result, new_alpha[:, :, None]], axis=2)
