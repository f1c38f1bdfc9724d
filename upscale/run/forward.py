"""One forward pass on a batch: fit its size to the network, guard the precision (fp16
overflows past 65504: the "all-black image"; cuDNN's fp32 is TF32 unless told)."""

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
    """(holder, attribute, exact value) for cuDNN convolutions and matmuls, in torch's API."""
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
    """TF32 off while any thread runs an fp32 network (the flags are process-wide); the
    caller's settings come back when the last one leaves."""
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


def is_finite(y: torch.Tensor) -> bool:
    """Whether no element is NaN or infinite, by min and max: no full-size mask."""
    low, high = torch.aminmax(y)
    return bool(torch.isfinite(low) & torch.isfinite(high))


def forward(prepared: PreparedNetwork, x: torch.Tensor) -> torch.Tensor:
    """Upscale N×C×H×W float32 in [0, 1]; returns N×C×(H·s)×(W·s) in the run dtype."""
    fitted, height, width = fit_to_network(x, prepared.model.size)
    exact = prepared.dtype == torch.float32
    with exact_fp32() if exact else nullcontext(), torch.inference_mode():
        y = prepared.module(fitted.to(prepared.dtype))
    y = y[..., : height * prepared.scale, : width * prepared.scale]
    if prepared.is_half and not is_finite(y):
        name = {torch.float16: "fp16", torch.bfloat16: "bf16"}[prepared.dtype]
        del y
        prepared.switch_to_fp32()
        warnings.warn(NON_FINITE_WARNING.format(precision=name), RuntimeWarning, stacklevel=4)
        raise PrecisionSwitched(f"{name} overflowed; now fp32")
    return y
