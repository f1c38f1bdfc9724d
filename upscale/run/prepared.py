"""A network made ready to run: on its device, in its dtype, converted once.

Converting weights per tile would cost a copy of the whole network per tile;
here it happens once, on a copy, so the caller's module stays as it was (it is
the exact fp32 source for the fallback below). The fp32 twin used when a
half-precision tile overflows is made only the first time one does.

What a run learns is kept here for the rest of the run, so it is paid for once:
that the network overflows in half precision (it then runs in fp32 from that
tile on), and the tile side and batch size that worked after running out of
memory (the estimate in :mod:`.memory` is only a first guess).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..archs import as_model
from ..errors import UpscaleError
from ..model import ModelDescriptor
from .cpu import optimize_network
from .device import device_for
from .memory import NetworkFacts, is_out_of_memory, probe_network
from .precision import HALF_DTYPES, is_auto, resolve_precision

# The deepest source (bits per channel) whose every level survives the round trip through a
# half type: fp16 has 11 significant bits, bf16 8.
HALF_SOURCE_BITS = {torch.float16: 10, torch.bfloat16: 8}


def _already(network: nn.Module, device: torch.device, dtype: torch.dtype) -> bool:
    """True when every parameter and buffer already lives on ``device`` in ``dtype``."""
    tensors = [*network.parameters(), *network.buffers()]
    return all(t.device == device and (not t.is_floating_point() or t.dtype == dtype)
               for t in tensors)


def convert(network: nn.Module, device: torch.device, dtype: torch.dtype, *,
            purpose: str = "the network's weights") -> nn.Module:
    """An eval-mode, gradient-free copy of ``network`` on ``device`` in ``dtype`` (no copy if it
    already is).

    Running out of memory here is no tile's fault, so no smaller tile can cure
    it: it is one line saying what did not fit (``purpose``), not an OOM the
    tiling engine would take for its own and retry.
    """
    if not _already(network, device, dtype):
        try:
            network = copy.deepcopy(network).to(device=device, dtype=dtype)
        except Exception as error:  # noqa: BLE001 - only out-of-memory is reworded
            if not is_out_of_memory(error):
                raise
            size = sum(p.numel() for p in network.parameters()) * dtype.itemsize
            raise UpscaleError(
                f"out of memory on {device} for {purpose} ({size / 2**20:.0f} MiB in "
                f"{str(dtype).removeprefix('torch.')}): free memory on the device, or run on "
                "another one (--device cpu)") from None
    network.eval()
    for param in network.parameters():
        param.requires_grad_(False)
    return network


@dataclass(eq=False)
class PreparedNetwork:
    """A model plus where and how it runs.

    ``model`` is the caller's descriptor (every fact about the network is read
    from it; its module is the exact fp32 source); ``module`` is what actually
    runs, which a faster engine may have replaced with one computing the same function.
    """

    model: ModelDescriptor
    device: torch.device
    dtype: torch.dtype
    module: nn.Module
    auto_precision: bool = False  # dtype was chosen by "auto", not asked for
    tile_limit: int | None = None  # largest tile side that worked after out-of-memory
    batch_limit: int | None = None  # largest frame batch that worked after out-of-memory
    _memory: NetworkFacts | None = field(default=None, repr=False)
    _fp32: nn.Module | None = field(default=None, repr=False)
    _wide: PreparedNetwork | None = field(default=None, repr=False)

    @property
    def scale(self) -> int:
        return self.model.scale

    @property
    def is_half(self) -> bool:
        return self.dtype in HALF_DTYPES

    def memory_facts(self) -> NetworkFacts:
        """The network's activation sizes, probed once (on the caller's plain module, whose
        layers the probe's hooks can see, which a fused fast module's may not be)."""
        if self._memory is None:
            weight = next(self.model.module.parameters(), None)
            device = weight.device if weight is not None else torch.device("cpu")
            dtype = weight.dtype if weight is not None else torch.float32
            self._memory = probe_network(self.model, device, dtype)
        return self._memory

    def fp32_module(self) -> nn.Module:
        """The same network in fp32 on the same device, made on first use."""
        if self.dtype == torch.float32:
            return self.module
        if self._fp32 is None:
            self._fp32 = convert(self.model.module, self.device, torch.float32,
                                 purpose="the fp32 copy of the network that half precision's "
                                 "overflow or 16-bit pixels need (--precision fp32 needs only it)")
        return self._fp32

    def switch_to_fp32(self) -> None:
        """Run in fp32 from now on (half precision overflowed); learned sizes shrink to match."""
        if self.dtype == torch.float32:
            return
        self.module, self.dtype = self.fp32_module(), torch.float32
        if self.tile_limit is not None:  # twice the bytes per pixel: 1/√2 the side
            self.tile_limit = max(1, int(self.tile_limit / math.sqrt(2)))
        if self.batch_limit is not None:
            self.batch_limit //= 2

    def for_pixels(self, dtype: np.dtype, source_bits: int | None = None) -> PreparedNetwork:
        """The network to run ``dtype`` pixels with: under ``auto``, pixels deeper than the half
        type can hold get fp32.

        ``source_bits`` is the source's real depth where the pixels are wider than
        it (a 10-bit video decodes to 16-bit values). fp16's 11 significant bits
        hold every level of a 10-bit source but not of 12 or 16 bits (a 16-bit
        round trip keeps 7,169 of 65,536 levels); bf16's 8 hold 8 bits only. A
        user who asked for half precision by name gets it.
        """
        bits = source_bits or np.dtype(dtype).itemsize * 8
        if np.dtype(dtype) == np.float32 or not (self.auto_precision and self.is_half) \
                or bits <= HALF_SOURCE_BITS[self.dtype]:
            return self
        if self._wide is None:
            self._wide = PreparedNetwork(model=self.model, device=self.device,
                                         dtype=torch.float32, module=self.fp32_module(),
                                         _memory=self._memory)
        return self._wide


def prepare_network(model: ModelDescriptor | nn.Module, device: str | torch.device = "auto",
                    precision: str | torch.dtype = "auto", *, optimize: bool = True,
                    allow_slow_half: bool = False) -> PreparedNetwork:
    """Resolve device and precision and convert the network's weights once.

    ``model`` is what :func:`upscale.loading.load_model` returns, or a network of a
    known architecture built by hand. ``optimize`` swaps in the fastest equivalent
    module for the device (:mod:`.cpu`; the network itself elsewhere).
    """
    model = as_model(model)
    where = device_for(model, device)
    dtype = resolve_precision(precision, where, allow_slow_half=allow_slow_half, model=model)
    module = convert(model.module, where, dtype)
    if optimize:
        module = optimize_network(model, module, where, dtype)
    return PreparedNetwork(model=model, device=where, dtype=dtype, module=module,
                           auto_precision=is_auto(precision))
