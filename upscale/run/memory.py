"""How much memory a tile needs, how much there is, and what to do when it runs out.

The cost of a tile is estimated from the network itself: a tiny probe forward
records the largest activation per input pixel (for RRDBNet x4 that is the
64-channel map at 16× the input's pixels). Our networks free each full-size
map as soon as the next exists, so at most :data:`LIVE_ACTIVATIONS` (a
convolution's input and output) are alive at once; the convolution's own
workspace comes on top, for which :data:`WORKSPACE_MARGIN` is kept free
(oneDNN's on the CPU measured exactly one activation: RRDBNet's peak is 3.0×
its largest activation, tests/test_run_device_memory.py). cuDNN's heuristic
algorithms fall back to ones with less workspace when memory is short. That
estimate is a first guess: a size that ran out of memory is shrunk and the
size that worked is kept (see :class:`~.prepared.PreparedNetwork`);
``bench/gpu.py`` prints the estimate beside the measured peak on a card.

Whatever the memory, no single activation may exceed :data:`MAX_ELEMENTS`:
many CUDA kernels (and older cuDNN) index with 32-bit integers, and past 2³¹
elements they fail with an illegal memory access, which kills the CUDA context
for the rest of the process, or fall back to very slow kernels.
"""

from __future__ import annotations

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

LIVE_ACTIVATIONS = 2.0  # largest activations alive at once: a convolution's input and output
WORKSPACE_MARGIN = 1.0  # in activations, for the convolution's workspace and fragmentation
PEAK_FACTOR = LIVE_ACTIVATIONS + WORKSPACE_MARGIN  # peak memory / largest single activation
MIN_TILE = 32  # below this the context costs more than the tile; fail instead
CPU_BUDGET_CAP = 4 << 30  # tiles bigger than this buy no speed on a CPU, only memory
CPU_BUDGET_FRACTION = 0.4  # of the RAM available now
GPU_BUDGET_FRACTION = 0.75  # of the free device memory (leave room for the allocator)
ENOUGH_OVERHEAD = 1.15  # stop growing tiles once context adds at most 15% work
ENOUGH_ROUNDING = 64
MAX_ELEMENTS = 2**31 - 1  # the largest activation any tile or batch may have
MPS_BUDGET_FRACTION = 0.5  # of Metal's recommended working set (or of free RAM, torch<2.5)
# What backends raise when an allocation fails, besides torch.cuda.OutOfMemoryError. cuDNN and
# cuBLAS allocate their own workspace and handles and report failure in their own words; cuDNN
# says "GET/FIND was unable to find an engine" when no algorithm fits its workspace, and
# CUDNN_STATUS_INTERNAL_ERROR is what older cuDNN raises for the same. A smaller tile is the cure;
# should one of these have another cause, halving stops at MIN_TILE with the original message.
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
        # input: the fp32 tensor from to_network and its copy in the run dtype; output: the
        # network's, then one fp32 copy in from_network (which is what fp16 runs forget)
        io = 4 * channels + size * channels * (1 + scale * scale) + 4 * channels * scale * scale
        return size * PEAK_FACTOR * self.elements_per_pixel + io

    def largest_activation(self, height: int, width: int, batch: int = 1) -> float:
        """Elements in the largest activation of a batch of ``height``×``width`` inputs."""
        return self.elements_per_pixel * height * width * batch


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
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    pages = os.sysconf("SC_AVPHYS_PAGES") if hasattr(os, "sysconf") else 0
    return int(pages * os.sysconf("SC_PAGE_SIZE")) if pages else 8 << 30


def _mps_room() -> int:
    """Bytes Metal can still give this process: torch>=2.5 says so, older torch does not.

    Apple GPUs share the system RAM, so free RAM stands in where the
    recommended working set is unknown.
    """
    recommended = getattr(torch.mps, "recommended_max_memory", None)
    if recommended is None:
        return _available_ram()
    allocated = getattr(torch.mps, "current_allocated_memory", lambda: 0)
    return recommended() - allocated()


def memory_budget(device: torch.device) -> int:
    """Bytes a tile's activations may use on ``device``."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(GPU_BUDGET_FRACTION * (free + cached))
    if device.type == "mps":
        return int(MPS_BUDGET_FRACTION * _mps_room())
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


def element_cap_side(elements_per_pixel: float, pad: int, multiple: int = 1) -> int:
    """The largest core side whose padded tile keeps every activation within MAX_ELEMENTS."""
    return int(math.sqrt(MAX_ELEMENTS / elements_per_pixel)) - 2 * pad - multiple


def is_out_of_memory(error: BaseException) -> bool:
    """An allocation failure, in any of the words CUDA, cuDNN, cuBLAS, MPS or the CPU use."""
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and any(m in text for m in OUT_OF_MEMORY_MARKERS)


def release_cached(device: torch.device) -> None:
    """Give cached blocks back so a smaller retry can use them."""
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


def unless_out_of_memory(device: torch.device, run: Callable[..., T], *args: Any
                         ) -> tuple[T | None, str]:
    """``run(*args)`` and no failure, or no result and what the device said when it ran out of
    memory (its cache already given back). The one out-of-memory rule of tiles and frame
    batches: each then retries smaller and keeps the size that worked."""
    failure = ""
    try:
        return run(*args), ""
    except Exception as error:  # noqa: BLE001 - only out-of-memory is handled
        if not is_out_of_memory(error):
            raise
        failure = str(error).splitlines()[0] if str(error) else type(error).__name__
    release_cached(device)  # outside the except block, so the failed tensors are freed
    return None, failure
