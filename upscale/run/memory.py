"""How much memory a tile needs, how much there is, and what to do when it runs out."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import nn

from ..errors import UpscaleError
from ..model import ModelDescriptor

T = TypeVar("T")

PEAK_FACTOR = 3.0  # peak memory / largest activation: input, output, workspace
MIN_TILE = 32  # below this the context costs more than the tile; fail instead
CPU_BUDGET_CAP = 4 << 30  # tiles bigger than this buy no speed on a CPU, only memory
CPU_BUDGET_FRACTION = 0.4  # of the RAM available now
GPU_BUDGET_FRACTION = 0.75  # of the free device memory (leave room for the allocator)
ENOUGH_OVERHEAD = 1.15  # stop growing tiles once context adds at most 15% work
ENOUGH_ROUNDING = 64
# The largest activation any tile or batch may have, whatever the memory: past it CUDA kernels
# indexing with 32-bit integers fail (killing the context) or crawl.
MAX_ELEMENTS = 2**31 - 1
MPS_BUDGET_FRACTION = 0.5  # of Metal's recommended working set (or of free RAM, torch<2.5)
# Failed allocations in each backend's words (cuDNN's when no algorithm fits its workspace);
# should one have another cause, halving the tile stops at MIN_TILE with the message.
OUT_OF_MEMORY_MARKERS = (
    "out of memory", "can't allocate memory", "cudnn_status_alloc_failed",
    "cublas_status_alloc_failed", "cudnn_status_internal_error",
    "unable to find an engine to execute this computation")


@dataclass(frozen=True)
class NetworkFacts:
    """Per-input-pixel activation size, measured by a probe forward."""

    elements_per_pixel: float  # largest single activation, in elements per input pixel

    def bytes_per_pixel(self, dtype: torch.dtype, channels: int, scale: int) -> float:
        size = torch.empty((), dtype=dtype).element_size()
        # input: to_network's fp32 and its run-dtype copy; output: the network's and an fp32 copy
        io = 4 * channels + size * channels * (1 + scale * scale) + 4 * channels * scale * scale
        return size * PEAK_FACTOR * self.elements_per_pixel + io


def probe_network(model: ModelDescriptor, device: torch.device, dtype: torch.dtype
                  ) -> NetworkFacts:
    """Run a small input through the model's module with hooks on its leaf layers."""
    side = model.size.fit(16)
    largest = 0

    def hook(layer: nn.Module, inputs: tuple, output: object) -> None:
        nonlocal largest
        if isinstance(output, torch.Tensor):
            largest = max(largest, output.numel())

    leaves = [m for m in model.module.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        probe = torch.rand(1, model.in_channels, side, side, device=device).to(dtype)
        with torch.inference_mode():
            model.module(probe)
    finally:
        for handle in handles:
            handle.remove()
    return NetworkFacts(elements_per_pixel=largest / side**2)


def _available_ram() -> int:
    """Bytes of RAM available to a new allocation now (MemAvailable on Linux)."""
    with contextlib.suppress(OSError), open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    pages = os.sysconf("SC_AVPHYS_PAGES") if hasattr(os, "sysconf") else 0
    return int(pages * os.sysconf("SC_PAGE_SIZE")) if pages else 8 << 30


def memory_budget(device: torch.device) -> int:
    """Bytes a tile's activations may use on ``device``."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(GPU_BUDGET_FRACTION * (free + cached))
    if device.type == "mps":  # free RAM, which Apple GPUs share, where torch<2.5 cannot say
        recommended = getattr(torch.mps, "recommended_max_memory", None)
        room = (_available_ram() if recommended is None
                else recommended() - torch.mps.current_allocated_memory())
        return int(MPS_BUDGET_FRACTION * room)
    return int(min(CPU_BUDGET_FRACTION * _available_ram(), CPU_BUDGET_CAP))


def enough_tile(pad: int) -> int:
    """A tile past which the context overhead is small, so growing further buys nothing."""
    side = 2 * pad / (math.sqrt(ENOUGH_OVERHEAD) - 1)
    return max(256, math.ceil(side / ENOUGH_ROUNDING) * ENOUGH_ROUNDING)


def largest_tile(budget: int, bytes_per_pixel: float, pad: int) -> int:
    """The largest core side whose padded tile fits ``budget``; fails clearly below the floor."""
    side = int(math.sqrt(max(0.0, budget) / bytes_per_pixel)) - 2 * pad
    if side < MIN_TILE:
        need = (MIN_TILE + 2 * pad) ** 2 * bytes_per_pixel
        raise UpscaleError(
            f"not enough memory for even a {MIN_TILE}×{MIN_TILE} tile with {pad} px of context: "
            f"it needs about {need / 2**20:.0f} MiB and {max(budget, 0) / 2**20:.0f} MiB is free; "
            "close other programs, use a smaller --tile-pad, or run on another device")
    return side


def is_out_of_memory(error: BaseException) -> bool:
    """An allocation failure, in any of the words CUDA, cuDNN, cuBLAS, MPS or the CPU use."""
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and any(m in text for m in OUT_OF_MEMORY_MARKERS)


def unless_out_of_memory(device: torch.device, run: Callable[..., T], *args: Any
                         ) -> tuple[T | None, str]:
    """``run(*args)`` and "", or None and what the device said when it ran out of memory."""
    try:
        return run(*args), ""
    except Exception as error:  # noqa: BLE001 - only out-of-memory is handled
        if not is_out_of_memory(error):
            raise
        failure = str(error).splitlines()[0] if str(error) else type(error).__name__
    # outside the except block, so the failed tensors are freed
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()
    return None, failure
