"""One forward pass on a batch: fit its size to the network, guard half precision.

fp16 activations overflow past 65504; some networks do that on some inputs
and the tile comes back as inf/NaN (the "all-black image" users report). Such
a batch is run again in fp32, and the user is warned once per network.
"""

from __future__ import annotations

import warnings

import torch

from .fit import fit_to_network
from .prepared import PreparedNetwork

NON_FINITE_WARNING = (
    "{precision} produced non-finite values (numeric overflow) on part of the image; those "
    "tiles were run again in fp32, so the result is correct but slower. "
    "--precision fp32 avoids the re-runs.")


def _run(prepared: PreparedNetwork, module: torch.nn.Module, dtype: torch.dtype,
         x: torch.Tensor) -> torch.Tensor:
    network = prepared.network
    fitted, height, width = fit_to_network(x, getattr(network, "size_multiple", 1),
                                           getattr(network, "min_size", 1))
    with torch.inference_mode():
        y = module(fitted.to(dtype))
    scale = prepared.scale
    return y[..., : height * scale, : width * scale]


def forward(prepared: PreparedNetwork, x: torch.Tensor) -> torch.Tensor:
    """Upscale N×C×H×W float32 in [0, 1]; returns N×C×(H·s)×(W·s) in the run dtype."""
    y = _run(prepared, prepared.module, prepared.dtype, x)
    if prepared.is_half and not bool(torch.isfinite(y).all()):
        del y
        y = _run(prepared, prepared.fp32_module(), torch.float32, x)
        if not prepared.warned_non_finite:
            prepared.warned_non_finite = True
            name = {torch.float16: "fp16", torch.bfloat16: "bf16"}[prepared.dtype]
            warnings.warn(NON_FINITE_WARNING.format(precision=name), RuntimeWarning,
                          stacklevel=4)
    return y
