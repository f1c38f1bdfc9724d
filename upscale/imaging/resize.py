"""Resize a network's output to the scale the user asked for: area averaging to shrink
(no aliasing, no ringing), Lanczos, the sharpest of OpenCV's filters, to enlarge."""

from __future__ import annotations

import numpy as np

from ._cv2 import cv2


def resize_to(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to exactly ``width`` x ``height``, keeping dtype and channel count."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    shrinking = width * height < w * h
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4
    out = cv2.resize(image, (width, height), interpolation=interpolation)
    if image.ndim == 3 and out.ndim == 2:
        out = out[:, :, None]
    if image.dtype == np.float32 and not shrinking:
        out = np.clip(out, 0.0, 1.0)  # Lanczos overshoots; integer types saturate already
    return out
