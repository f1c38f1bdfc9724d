"""Architectures, one module each: ``NETWORK`` (its class), ``from_state_dict(state, hints)``
(None when the tensors are not its layout; ``hints`` carry what tensors cannot, e.g.
``act_type``) and ``describe(network)``. :func:`build_model` asks each in turn."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..errors import UnsupportedModelError
from ..model import ModelDescriptor
from . import rrdbnet, spandrel, srvgg

# Ours first: RRDBNet and SRVGGNetCompact have our CPU kernels. spandrel (an optional
# extra) loads every other layout it knows.
ARCHITECTURES = (rrdbnet, srvgg, spandrel)


# Prefixes that training code leaves on every key: DataParallel's, and the generator's
# attribute name in GAN trainers.
TRAINING_PREFIXES = ("module.", "netG.", "net_g.", "generator.")


def strip_prefixes(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the prefixes that training code leaves on every key (only when all keys have one)."""
    out = dict(state)
    while out:
        prefix = next((p for p in TRAINING_PREFIXES if all(k.startswith(p) for k in out)), None)
        if prefix is None:
            break
        out = {key[len(prefix):]: value for key, value in out.items()}
    return out


def describe(network: nn.Module) -> ModelDescriptor:
    """The descriptor of a network built by hand (e.g. ``RRDBNet(num_block=1)``)."""
    for arch in ARCHITECTURES:
        if isinstance(network, arch.NETWORK):
            return arch.describe(network)
    raise UnsupportedModelError(
        f"{type(network).__name__} is not an architecture upscale knows; "
        f"supported: {supported()}")


def supported() -> str:
    """The architectures that can load here, for error messages."""
    if spandrel.installed():
        return f"{rrdbnet.ARCH_NAME}, {srvgg.ARCH_NAME} and every architecture spandrel knows"
    return (f"{rrdbnet.ARCH_NAME} and {srvgg.ARCH_NAME}; {spandrel.INSTALL_HINT} loads "
            "SPAN, DAT, HAT, SwinIR, OmniSR, RealCUGAN and the rest of spandrel's")


def as_model(network: ModelDescriptor | nn.Module) -> ModelDescriptor:
    """What a library entry point was given (maybe a network built by hand), as a descriptor."""
    return network if isinstance(network, ModelDescriptor) else describe(network)


def build_model(state: Mapping[str, torch.Tensor], *, hints: Mapping[str, str] | None = None,
                source: str = "checkpoint") -> ModelDescriptor:
    """Detect the architecture and hyper-parameters from the tensors; the eval-mode model."""
    state = strip_prefixes(state)
    if not state:
        raise UnsupportedModelError(f"{source}: holds no tensors")
    misfit: UnsupportedModelError | None = None  # ours recognised it but could not build it
    for arch in ARCHITECTURES:
        try:
            net = arch.from_state_dict(state, hints or {})
        except (RuntimeError, KeyError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0]
            misfit = misfit or UnsupportedModelError(
                f"{source}: looks like {arch.ARCH_NAME} but the tensors do not fit it ({first})")
            misfit.__cause__ = misfit.__cause__ or exc
            continue  # spandrel may know this variant
        except UnsupportedModelError as exc:  # spandrel's own one line, given the source
            if misfit is not None:
                raise misfit from misfit.__cause__
            raise UnsupportedModelError(f"{source}: {exc}") from exc
        if net is not None:
            return arch.describe(net.eval())
    if misfit is not None:
        raise misfit from misfit.__cause__
    shown = ", ".join(f"{k} {tuple(v.shape)}" for k, v in list(state.items())[:4])
    more = f" and {len(state) - 4} more" if len(state) > 4 else ""
    raise UnsupportedModelError(f"{source}: unknown network layout: {len(state)} tensors "
                                f"({shown}{more}); supported: {supported()}")


__all__ = ["ARCHITECTURES", "as_model", "build_model", "describe", "strip_prefixes", "supported"]
