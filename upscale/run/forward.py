"""One forward pass on a batch: fit its size to the network, guard the precision.

fp16 activations overflow past 65504; some networks do that on some inputs
and the tile comes back as inf/NaN (the "all-black image" users report). The
first time that happens the prepared network switches to fp32 for good and
:class:`PrecisionSwitched` tells the caller to size the tile again for fp32
and redo it; the user is warned once.

fp32 means fp32: cuDNN runs fp32 convolutions in TF32 (10-bit mantissa) on
Ampere and newer unless told not to, which would make ``--precision fp32`` on
a GPU differ from the CPU and from ``eval``'s reference.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from .fit import fit_to_network
from .prepared import PreparedNetwork

NON_FINITE_WARNING = (
    "{precision} produced non-finite values (numeric overflow); this network now runs in fp32 "
    "for the rest of the run, so the result is correct but slower. "
    "--precision fp32 avoids the failed {precision} attempt.")


class PrecisionSwitched(Exception):
    """Half precision overflowed: the network now runs in fp32; size the work again and redo."""


def _tf32_switches() -> list[tuple[object, str, object]]:
    """(holder, attribute, value meaning exact fp32) for cuDNN convolutions and matmuls.

    torch>=2.9 has per-operator ``fp32_precision`` and refuses reads of the old
    ``allow_tf32`` flags once the new ones were set, so the newer API is used
    where it exists.
    """
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    conv = getattr(cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision") and hasattr(matmul, "fp32_precision"):
        return [(conv, "fp32_precision", "ieee"), (matmul, "fp32_precision", "ieee")]
    return [(cudnn, "allow_tf32", False), (matmul, "allow_tf32", False)]


@contextmanager
def exact_fp32() -> Iterator[None]:
    """TF32 off while the block runs; the caller's settings are restored after."""
    switches = _tf32_switches()
    saved = [getattr(holder, name) for holder, name, _ in switches]
    try:
        for holder, name, exact in switches:
            setattr(holder, name, exact)
        yield
    finally:
        for (holder, name, _), value in zip(switches, saved, strict=True):
            setattr(holder, name, value)


def _run(prepared: PreparedNetwork, x: torch.Tensor) -> torch.Tensor:
    fitted, height, width = fit_to_network(x, prepared.model.size)
    if prepared.dtype == torch.float32:
        with exact_fp32(), torch.inference_mode():
            y = prepared.module(fitted)
    else:
        with torch.inference_mode():
            y = prepared.module(fitted.to(prepared.dtype))
    scale = prepared.scale
    return y[..., : height * scale, : width * scale]


def forward(prepared: PreparedNetwork, x: torch.Tensor) -> torch.Tensor:
    """Upscale N×C×H×W float32 in [0, 1]; returns N×C×(H·s)×(W·s) in the run dtype.

    Raises :class:`PrecisionSwitched` when half precision overflowed on ``x``.
    """
    y = _run(prepared, x)
    if prepared.is_half and not bool(torch.isfinite(y).all()):
        name = {torch.float16: "fp16", torch.bfloat16: "bf16"}[prepared.dtype]
        del y
        prepared.switch_to_fp32()
        warnings.warn(NON_FINITE_WARNING.format(precision=name), RuntimeWarning, stacklevel=4)
        raise PrecisionSwitched(f"{name} overflowed; now fp32")
    return y
