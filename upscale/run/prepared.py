"""A network made ready to run: on its device, in its dtype, converted once (on a copy); it
keeps what a run learns: that half precision overflows, what sizes fit in memory."""

from __future__ import annotations

import copy
import itertools
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

# The deepest source (bits per channel) whose every level survives a half type's round trip.
HALF_SOURCE_BITS = {torch.float16: 10, torch.bfloat16: 8}


def _already(network: nn.Module, device: torch.device, dtype: torch.dtype) -> bool:
    """True when every parameter and buffer already lives on ``device`` in ``dtype``."""
    return all(t.device == device and (not t.is_floating_point() or t.dtype == dtype)
               for t in itertools.chain(network.parameters(), network.buffers()))


def convert(network: nn.Module, device: torch.device, dtype: torch.dtype, *,
            purpose: str = "the network's weights") -> nn.Module:
    """An eval-mode copy of ``network`` on ``device`` in ``dtype``; out of memory is one line."""
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
    """A model plus where and how it runs: ``module`` is what runs (perhaps a faster
    engine computing the same function); ``model.module`` stays the exact fp32 source."""

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
        """Activation sizes, probed once on the plain module (whose layers hooks can see)."""
        if self._memory is None:
            weight = next(self.model.module.parameters(), torch.empty(0, dtype=torch.float32))
            self._memory = probe_network(self.model, weight.device, weight.dtype)
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
        """The network for ``dtype`` pixels: fp32, under ``auto``, for more bits than the half
        type holds (``source_bits``: the real depth, as of a 10-bit video)."""
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
    """Resolve device and precision and convert the network's weights once."""
    model = as_model(model)
    where = device_for(model, device)
    dtype = resolve_precision(precision, where, allow_slow_half=allow_slow_half, model=model)
    module = convert(model.module, where, dtype)
    if optimize:
        module = optimize_network(model, module, where, dtype)
    return PreparedNetwork(model=model, device=where, dtype=dtype, module=module,
                           auto_precision=is_auto(precision))
