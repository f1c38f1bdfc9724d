"""Measure upscalers the way SR papers do: MATLAB bicubic LR, Y-channel PSNR/SSIM, shaved borders.

``matlab_resize`` and ``degradation`` make LR images, ``metrics`` scores, ``protocol``
loops over a dataset, ``results`` shows the outcome.
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
