"""Measure upscalers the way SR papers do: MATLAB bicubic LR, Y-channel PSNR/SSIM, shaved borders.

``matlab_resize`` and ``degradation`` make LR images, ``metrics`` scores, ``protocol``
loops over a dataset, ``results`` shows the outcome.
"""
