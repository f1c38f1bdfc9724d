"""Swap a loaded network for a faster engine that computes the same function.

:func:`prepare_network` calls :func:`optimize_network` once, after moving the
weights. On the CPU in fp32 that is our Winograd modules (:mod:`.winograd`,
numba) for RRDBNet and SRVGGNetCompact, which still measured faster than
OpenVINO on the development machine (``bench/RESULTS.md``), and OpenVINO
(:mod:`.openvino`) for any other architecture or when numba is missing;
everywhere else (CUDA, MPS, half precision) PyTorch runs the network itself.
Whatever comes back has the plain network's attributes (scale, in_channels,
size_multiple, ...) and takes the same N×C×H×W input.
"""

from __future__ import annotations

import torch
from torch import nn

from ..archs.rrdbnet import RRDBNet
from ..archs.srvgg import SRVGGNetCompact
from .openvino import available, cpu_count, openvino_network, say
from .winograd import available as winograd_available


def use_all_cores() -> int:
    """Give PyTorch's intra-op pool every core this process may run on; return the count."""
    cores = cpu_count()
    if torch.get_num_threads() != cores:
        torch.set_num_threads(cores)
    return cores


def optimize_network(network: nn.Module, device: torch.device | str = "cpu",
                     dtype: torch.dtype = torch.float32) -> nn.Module:
    """The fastest equivalent of ``network`` for ``device``/``dtype``, or the network itself.

    When OpenVINO is missing or fails to convert or compile the network, one
    warning line says so and PyTorch runs it.
    """
    device = torch.device(device)
    if device.type != "cpu" or dtype != torch.float32:
        return network
    use_all_cores()
    if isinstance(network, RRDBNet | SRVGGNetCompact) and winograd_available(device, dtype):
        if isinstance(network, RRDBNet):
            from .winograd_rrdbnet import WinogradRRDBNet

            return WinogradRRDBNet(network).eval()
        from .winograd_srvgg import WinogradSRVGGNetCompact

        return WinogradSRVGGNetCompact(network).eval()
    if not available():
        say("warning: OpenVINO is not installed (pip install openvino); running the network "
            "with plain PyTorch, which is slower on the CPU")
        return network
    try:
        return openvino_network(network)
    except Exception as error:  # noqa: BLE001 - any failure: PyTorch still computes it
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        say(f"warning: OpenVINO could not run this network ({reason[:200]}); running it with "
            "plain PyTorch, which is slower on the CPU")
        return network
