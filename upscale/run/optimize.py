"""Swap a loaded network for a faster module that computes the same function.

The tiling engine calls :func:`optimize_network` once, after moving the weights;
everything it gets back has the plain network's attributes (scale, in_channels,
size_multiple, flops_per_pixel, ...) and accepts the same NCHW input.
"""

from __future__ import annotations

import torch
from torch import nn

from ..archs.rrdbnet import RRDBNet
from ..archs.srvgg import SRVGGNetCompact
from .fast_rrdbnet import FastRRDBNet
from .fast_srvgg import FastSRVGGNetCompact
from .winograd import available as winograd_available


def use_all_cores() -> int:
    """Give PyTorch's intra-op pool every core this process may run on; return the count."""
    try:
        import os

        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = torch.get_num_threads()
    if torch.get_num_threads() != cores:
        torch.set_num_threads(cores)
    return cores


def optimize_network(network: nn.Module, device: torch.device | str = "cpu",
                     dtype: torch.dtype = torch.float32, *, winograd: bool = True) -> nn.Module:
    """Return a faster equivalent of ``network`` for ``device``/``dtype``, or the network.

    The fast modules target fp32 on the CPU, where they are measured to help; for
    anything else (CUDA, half precision, unknown architectures) the network is
    returned unchanged, so callers can always go through this function. With
    numba installed the CPU modules use Winograd convolutions (:mod:`.winograd`);
    ``winograd=False``, or no numba, gives the direct oneDNN ones.
    """
    device = torch.device(device)
    if device.type != "cpu" or dtype != torch.float32:
        return network
    use_all_cores()
    winograd = winograd and winograd_available(device, dtype)
    if isinstance(network, RRDBNet):
        if winograd:
            from .winograd_rrdbnet import WinogradRRDBNet

            return WinogradRRDBNet(network).eval()
        return FastRRDBNet(network, device, dtype).eval()
    if isinstance(network, SRVGGNetCompact):
        if winograd:
            from .winograd_srvgg import WinogradSRVGGNetCompact

            return WinogradSRVGGNetCompact(network).eval()
        return FastSRVGGNetCompact(network, device, dtype).eval()
    return network
