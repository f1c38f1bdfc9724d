"""Which floating-point type the network runs in: ``auto``, ``fp32``, ``fp16`` or ``bf16``
(``auto``: fp16 on CUDA only, as CPUs emulate half precision hundreds of times slower)."""

from __future__ import annotations

import torch

from ..errors import UpscaleError
from ..model import ModelDescriptor

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
ALIASES = {"float32": "fp32", "float": "fp32", "float16": "fp16", "half": "fp16",
           "bfloat16": "bf16"}
HALF_DTYPES = (torch.float16, torch.bfloat16)


def _cpu_has_native(dtype: torch.dtype) -> bool:
    """Whether this CPU has hardware support for ``dtype`` (private torch probes, if present)."""
    probe = {torch.bfloat16: "_is_avx512_bf16_supported",
             torch.float16: "_is_amx_fp16_supported"}[dtype]
    return bool(getattr(torch.cpu, probe, lambda: False)())


def cuda_has_native_bf16(device: torch.device) -> bool:
    """Whether the CUDA device has bf16 arithmetic (8.0 and newer), not emulation."""
    if torch.version.hip:
        return True
    try:
        with torch.cuda.device(device):
            return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # torch<2.3: no including_emulation
        return torch.cuda.get_device_capability(device) >= (8, 0)


def is_auto(spec: str | torch.dtype | None) -> bool:
    """Whether the user left the precision to us (``auto``, or nothing)."""
    return not isinstance(spec, torch.dtype) and (spec or "auto").strip().lower() == "auto"


def resolve_precision(spec: str | torch.dtype | None, device: torch.device, *,
                      allow_slow_half: bool = False, model: ModelDescriptor | None = None
                      ) -> torch.dtype:
    """The dtype to run in on ``device``; refuses ones that would crawl or break the model."""
    if isinstance(spec, torch.dtype):
        name = next((k for k, v in PRECISIONS.items() if v == spec), None)
        if name is None:
            raise UpscaleError(f"precision {spec}: use one of auto, {', '.join(PRECISIONS)}")
    else:
        name = (spec or "auto").strip().lower()
        name = ALIASES.get(name, name)
    half_ok = model is None or model.supports_half
    if name == "auto":
        return torch.float16 if device.type == "cuda" and half_ok else torch.float32
    if name not in PRECISIONS:
        raise UpscaleError(f"unknown precision {spec!r}; use auto, {', '.join(PRECISIONS)}")
    dtype = PRECISIONS[name]
    supported = half_ok if dtype == torch.float16 else model is None or (
        dtype != torch.bfloat16 or model.supports_bfloat16)
    if not supported:
        raise UpscaleError(f"precision {name}: {model.source} ({model.architecture}) does not "
                           "run correctly in it; use --precision fp32 (or auto)")
    if device.type == "cpu" and dtype in HALF_DTYPES and not allow_slow_half \
            and not _cpu_has_native(dtype):
        raise UpscaleError(
            f"precision {name} on the CPU: this CPU has no native {name} arithmetic, so PyTorch "
            f"emulates it hundreds of times slower than fp32 (a 64×64 tile took 523 s in fp16 "
            f"against about 1 s in fp32); use --precision fp32 (or auto) on the CPU")
    if device.type == "cuda" and dtype == torch.bfloat16 and not cuda_has_native_bf16(device):
        raise UpscaleError(f"precision bf16: {torch.cuda.get_device_name(device)} ({device}) has "
                           "no native bf16 (it needs compute capability 8.0 or newer); "
                           "use --precision fp16 or fp32")
    return dtype
