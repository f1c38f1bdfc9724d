"""Alpha and grayscale handling around a network that only knows RGB.

Transparent pixels hold any colour (often black), which a network would bleed into the
visible edge as a halo: :func:`bleed_transparent_colour` replaces it with nearby colour.
"""

from __future__ import annotations

import numpy as np

from ._cv2 import cv2

_PEAKS = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def split_alpha(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Colour channels and the alpha channel (None when there is none)."""
    if image.ndim == 3 and image.shape[2] in (2, 4):
        return image[:, :, :-1], image[:, :, -1]
    return image, None


def bleed_transparent_colour(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Fill colour under (partly) transparent pixels from nearby visible ones by pull-push over
    an alpha-weighted pyramid; fully opaque pixels are kept exactly."""
    weight = alpha.astype(np.float32) / _PEAKS.get(alpha.dtype, 1.0)
    if weight.min() >= 1.0:
        return colour
    values = colour.astype(np.float32) / _PEAKS.get(colour.dtype, 1.0)
    if values.ndim == 2:
        values = values[:, :, None]
    levels = [(values * weight[:, :, None], weight)]
    while min(levels[-1][1].shape) > 1:
        premultiplied, w = levels[-1]
        h, wd = w.shape
        size = (max(1, (wd + 1) // 2), max(1, (h + 1) // 2))
        down_p = cv2.resize(premultiplied, size, interpolation=cv2.INTER_AREA)
        down_w = cv2.resize(w, size, interpolation=cv2.INTER_AREA)
        levels.append((down_p.reshape(size[1], size[0], -1), down_w))
    filled_p, filled_w = levels[-1]
    for premultiplied, w in reversed(levels[:-1]):
        h, wd = w.shape
        up_p = cv2.resize(filled_p, (wd, h), interpolation=cv2.INTER_LINEAR).reshape(h, wd, -1)
        up_w = cv2.resize(filled_w, (wd, h), interpolation=cv2.INTER_LINEAR)
        # Keep what this level knows, and take the rest from the coarser estimate.
        missing = 1.0 - np.clip(w, 0.0, 1.0)
        filled_p = premultiplied + up_p * missing[:, :, None]
        filled_w = w + up_w * missing
    filled = filled_p / np.maximum(filled_w, 1e-8)[:, :, None]
    result = np.where((weight >= 1.0)[:, :, None], values, filled)
    if colour.ndim == 2:
        result = result[:, :, 0]
    if colour.dtype in _PEAKS:
        return (np.clip(result, 0, 1) * _PEAKS[colour.dtype] + 0.5).astype(colour.dtype)
    return result.astype(np.float32)


def gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    """Repeat one channel three times for an RGB network."""
    return np.repeat(gray[:, :, None], 3, axis=2)


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """Back to one channel with BT.601 luma weights, keeping the dtype."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
