"""Architectures, each in its own module with its own key-layout detection.

Every architecture module offers ``from_state_dict(state) -> nn.Module | None``:
it returns None when the tensors are not its layout. :func:`build_network` asks
each in turn, so adding an architecture means adding a module to ``ARCHITECTURES``.

Every network built here exposes ``arch_name``, ``scale``, ``in_channels``,
``out_channels``, ``size_multiple`` (input sides must be multiples of it)
and ``hyperparameters``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..errors import UnsupportedModelError
from . import rrdbnet, srvgg

ARCHITECTURES = (rrdbnet, srvgg)


# Prefixes that training code leaves on every key: DataParallel's ``module.``, and the
# generator's attribute name in GAN trainers (``netG.``, ``net_g.``, ``generator.``).
TRAINING_PREFIXES = ("module.", "netG.", "net_g.", "generator.")


def strip_prefixes(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the prefixes that training code leaves on every key (only when all keys have one)."""
    out = dict(state)
    stripped = True
    while stripped and out:
        stripped = False
        for prefix in TRAINING_PREFIXES:
            if all(key.startswith(prefix) for key in out):
                out = {key[len(prefix):]: value for key, value in out.items()}
                stripped = True
    return out


def describe_keys(state: Mapping[str, torch.Tensor], limit: int = 4) -> str:
    """A short, readable summary of what a state dict holds, for error messages."""
    keys = list(state)
    shown = ", ".join(f"{k} {tuple(state[k].shape)}" for k in keys[:limit])
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return f"{len(keys)} tensors ({shown}{more})"


def build_network(state: Mapping[str, torch.Tensor], *, act_type: str | None = None,
                  source: str = "checkpoint") -> nn.Module:
    """Detect the architecture and hyper-parameters from the tensors; return the network."""
    state = strip_prefixes(state)
    if not state:
        raise UnsupportedModelError(f"{source}: holds no tensors")
    for arch in ARCHITECTURES:
        try:
            net = (arch.from_state_dict(state, act_type) if arch is srvgg
                   else arch.from_state_dict(state))
        except (RuntimeError, KeyError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0]
            raise UnsupportedModelError(
                f"{source}: looks like {arch.ARCH_NAME} but the tensors do not fit it ({first})"
            ) from exc
        if net is not None:
            return net.eval()
    raise UnsupportedModelError(
        f"{source}: unknown network layout: {describe_keys(state)}; "
        f"supported: {', '.join(a.ARCH_NAME for a in ARCHITECTURES)}"
    )


__all__ = ["ARCHITECTURES", "build_network", "describe_keys", "strip_prefixes"]
