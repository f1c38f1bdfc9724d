"""The CPU engines in fp32: our Winograd modules where measured fastest (RRDBNet,
SRVGGNetCompact), else OpenVINO or PyTorch, whichever measured faster (:mod:`.choice`)."""

from __future__ import annotations

import torch
from torch import nn

from ...archs import rrdbnet, srvgg
from ...model import ModelDescriptor
from ...notes import note
from .choice import fastest
from .openvino import available, openvino_network
from .shared import keep_freed_memory, use_all_cores
from .winograd import available as winograd_available


def winograd_module(model: ModelDescriptor, network: nn.Module) -> nn.Module | None:
    """Our Winograd module for the architectures that have one (None for the others)."""
    # Imported here: each builds numba kernels on first import, which only a CPU run needs.
    if model.architecture == rrdbnet.ARCH_NAME:
        from .winograd_rrdbnet import WinogradRRDBNet

        return WinogradRRDBNet(network).eval()
    if model.architecture == srvgg.ARCH_NAME:
        from .winograd_srvgg import WinogradSRVGGNetCompact

        return WinogradSRVGGNetCompact(network).eval()
    return None


def optimize_network(model: ModelDescriptor, network: nn.Module, device: torch.device | str,
                     dtype: torch.dtype) -> nn.Module:
    """The fastest equivalent of ``network`` (already on ``device`` in ``dtype``), or itself."""
    device = torch.device(device)
    if device.type != "cpu" or dtype != torch.float32 or getattr(network, "runs_itself", False):
        return network  # an ONNX graph is run by its own engine
    use_all_cores()
    keep_freed_memory()
    if winograd_available(device, dtype):
        fast = winograd_module(model, network)
        if fast is not None:
            return fast
    if not available():
        note("OpenVINO is not installed (pip install openvino); running the network "
            "with plain PyTorch, which is slower on the CPU")
        return network
    try:
        if model.architecture in (rrdbnet.ARCH_NAME, srvgg.ARCH_NAME):
            return openvino_network(model, network)  # measured in bench/RESULTS.md
        return fastest(model, network)
    except Exception as error:  # noqa: BLE001 - any failure: PyTorch still computes it
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        note(f"OpenVINO could not run this network ({reason[:200]}); running it with "
            "plain PyTorch, which is slower on the CPU")
        return network
