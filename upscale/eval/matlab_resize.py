"""MATLAB's ``imresize``, reimplemented in numpy, because every SR benchmark was made with it.

Benchmark LR images are ``imresize(hr, 1/s, 'bicubic')``: a cubic kernel with a = -0.5
(OpenCV's is -0.75), *stretched* by 1/s when shrinking (antialiasing), with symmetric
edge padding; OpenCV's ``INTER_CUBIC`` lands tenths of a dB off the published tables.
Output pixel ``i`` (1-based) of an axis sits at input position ``i/s + (1 - 1/s)/2``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np

Kernel = Literal["cubic", "lanczos3", "box"]


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def lanczos3(x: np.ndarray) -> np.ndarray:
    """sinc(x) * sinc(x/3) on |x| < 3 (MATLAB's ``lanczos3``)."""
    return np.sinc(x) * np.sinc(x / 3.0) * (np.abs(x) < 3)


def box(x: np.ndarray) -> np.ndarray:
    """1 on [-0.5, 0.5): nearest neighbour (MATLAB's ``box``)."""
    return ((x >= -0.5) & (x < 0.5)).astype(np.float64)


# kernel function, support width, and whether MATLAB stretches it when shrinking
_KERNELS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], float, bool]] = {
    "cubic": (cubic, 4.0, True),
    "lanczos3": (lanczos3, 6.0, True),
    "box": (box, 1.0, False),  # MATLAB's 'nearest' switches antialiasing off
}


def contributions(in_len: int, out_len: int, scale: float,
                  kernel: Kernel = "cubic") -> tuple[np.ndarray, np.ndarray]:
    """Per output pixel, the 0-based input indices it reads and their normalised weights,
    both (out_len, taps); indices past an edge are mirrored (MATLAB's symmetric padding)."""
    function, width, stretch = _KERNELS[kernel]
    antialias = scale < 1 and stretch
    if antialias:
        width = width / scale  # the stretched kernel reaches 1/scale times further

    out = np.arange(1, out_len + 1, dtype=np.float64)
    centre = out / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(centre - width / 2.0)
    taps = int(math.ceil(width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # 1-based
    distance = centre[:, None] - indices
    weights = scale * function(scale * distance) if antialias else function(distance)
    weights /= weights.sum(axis=1, keepdims=True)
    mirrored = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    indices = mirrored[np.mod(indices.astype(np.int64) - 1, 2 * in_len)]
    used = np.any(weights != 0, axis=0)  # drop columns no output pixel uses
    return indices[:, used], weights[:, used]


def _resize_axis(image: np.ndarray, axis: int, out_len: int, scale: float,
                 kernel: Kernel) -> np.ndarray:
    moved = np.moveaxis(image, axis, 0)
    indices, weights = contributions(moved.shape[0], out_len, scale, kernel)
    result = np.zeros((out_len, *moved.shape[1:]), dtype=np.float64)
    extra = (None,) * (moved.ndim - 1)
    for tap in range(indices.shape[1]):
        result += weights[(slice(None), tap, *extra)] * moved[indices[:, tap]]
    return np.moveaxis(result, 0, axis)


def imresize(image: np.ndarray, scale: float | None = None, *,
             output_shape: tuple[int, int] | None = None,
             kernel: Kernel = "cubic") -> np.ndarray:
    """MATLAB's ``imresize(image, scale, 'bicubic')`` (or lanczos3 / nearest) of an HxW(xC)
    ``image``, to ``ceil(scale * size)`` or ``output_shape`` (height, width). Integer images
    come back rounded and saturated to their dtype, as MATLAB's do; float ones as float64."""
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale and output_shape")
    height, width = image.shape[:2]
    if output_shape is None:
        assert scale is not None
        scales = (float(scale), float(scale))
        output_shape = (math.ceil(scale * height), math.ceil(scale * width))
    else:
        scales = (output_shape[0] / height, output_shape[1] / width)
    result = image.astype(np.float64)
    for axis in sorted((0, 1), key=lambda a: scales[a]):  # most shrunk first, like MATLAB
        result = _resize_axis(result, axis, output_shape[axis], scales[axis], kernel)
    if np.issubdtype(image.dtype, np.integer):
        info = np.iinfo(image.dtype)
        return np.clip(np.floor(result + 0.5), info.min, info.max).astype(image.dtype)
    return result
