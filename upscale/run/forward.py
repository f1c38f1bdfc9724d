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

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

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


_tf32_lock = threading.Lock()
_tf32_users = 0  # blocks inside exact_fp32 now, in any thread
_tf32_saved: list[object] = []  # the settings before the first of them entered


@contextmanager
def exact_fp32() -> Iterator[None]:
    """TF32 off while any thread runs an fp32 network; the caller's settings come back when
    the last one leaves.

    The flags are process-wide, so a plain save/restore per call would let two
    threads interleave: the first to leave would turn TF32 back on under the other.
    """
    global _tf32_users
    switches = _tf32_switches()
    with _tf32_lock:
        if _tf32_users == 0:
            _tf32_saved[:] = [getattr(holder, name) for holder, name, _ in switches]
            for holder, name, exact in switches:
                setattr(holder, name, exact)
        _tf32_users += 1
    try:
        yield
    finally:
        with _tf32_lock:
            _tf32_users -= 1
            if _tf32_users == 0:
                for (holder, name, _), value in zip(switches, _tf32_saved, strict=True):
                    setattr(holder, name, value)


def _run(prepared: PreparedNetwork, x: torch.Tensor) -> torch.Tensor:
    fitted, height, width = fit_to_network(x, prepared.model.size)
    exact = prepared.dtype == torch.float32
    with exact_fp32() if exact else nullcontext(), torch.inference_mode():
        y = prepared.module(fitted.to(prepared.dtype))
    scale = prepared.scale
    return y[..., : height * scale, : width * scale]


def is_finite(y: torch.Tensor) -> bool:
    """Whether no element is NaN or infinite: one reduction (NaN and ±inf carry through min
    and max), no full-size mask, and one scalar read back."""
    low, high = torch.aminmax(y)
    return bool(torch.isfinite(low) & torch.isfinite(high))


def forward(prepared: PreparedNetwork, x: torch.Tensor) -> torch.Tensor:
    """Upscale N×C×H×W float32 in [0, 1]; returns N×C×(H·s)×(W·s) in the run dtype.

    Raises :class:`PrecisionSwitched` when half precision overflowed on ``x``.
    """
    y = _run(prepared, x)
    if prepared.is_half and not is_finite(y):
        name = {torch.float16: "fp16", torch.bfloat16: "bf16"}[prepared.dtype]
        del y
        prepared.switch_to_fp32()
        warnings.warn(NON_FINITE_WARNING.format(precision=name), RuntimeWarning, stacklevel=4)
        raise PrecisionSwitched(f"{name} overflowed; now fp32")
    return y
