"""Which floating-point type the network runs in: ``auto``, ``fp32``, ``fp16`` or ``bf16``.

Half precision halves memory and is much faster on GPUs, but on CPUs without
native half arithmetic PyTorch emulates it: on the development machine a 64×64
tile took 523 s in fp16 against about 1 s in fp32, and a bf16 convolution was
about 22× slower than fp32. So ``auto`` picks fp16 only on CUDA, and half
precision on a CPU is refused unless the CPU does it natively.

``auto`` is only a default: 16-bit pixels need more than fp16's 11 significant
bits (an fp16 round trip keeps 7,169 of the 65,536 levels, off by up to 16
codes; bf16 keeps 1,281, off by up to 128), so under ``auto`` uint16 images run
in fp32 (see :meth:`.prepared.PreparedNetwork.for_pixels`).
"""

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
    probes = {torch.bfloat16: ("_is_avx512_bf16_supported",),
              torch.float16: ("_is_amx_fp16_supported",)}
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes[dtype])


def cuda_has_native_bf16(device: torch.device) -> bool:
    """Whether the chosen CUDA device computes in bf16 itself (Ampere, compute capability 8.0,
    and newer), rather than emulating it as T4, V100 and RTX 20xx do.

    ``torch.cuda.is_bf16_supported()`` counts emulation by default and always asks
    about the current device, so it is asked with the chosen one current and
    ``including_emulation=False``; torch before 2.3 lacks that argument, and
    there the device's compute capability decides.
    """
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
    """The dtype to run in on ``device``; refuses combinations that would crawl or that the
    model's architecture does not support (``supports_half``/``supports_bfloat16``).

    ``allow_slow_half`` exists for tests, which run tiny networks in half
    precision on the CPU on purpose; the CLI never sets it.
    """
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
