"""Measure upscalers the way SR papers do: MATLAB bicubic LR, Y-channel PSNR/SSIM, shaved borders.

``matlab_resize`` makes the LR images (and the bicubic baseline), ``degradation``
makes realistic ones (Real-ESRGAN), ``metrics`` scores, ``run`` loops over a
dataset, ``report`` shows the result.
"""

from .matlab_resize import imresize
from .metrics import psnr, ssim
from .protocol import (
    CLASSICAL_METHODS,
    DEGRADATIONS,
    EvalReport,
    ImageScore,
    classical_upscaler,
    dataset_images,
    evaluate,
    upscaler_for_network,
)

__all__ = [
    "CLASSICAL_METHODS",
    "DEGRADATIONS",
    "EvalReport",
    "ImageScore",
    "classical_upscaler",
    "dataset_images",
    "evaluate",
    "imresize",
    "psnr",
    "ssim",
    "upscaler_for_network",
]
