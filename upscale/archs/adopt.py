"""Build a network around existing tensors without paying for a random initialisation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import torch
from torch import nn

Net = TypeVar("Net", bound=nn.Module)


def adopt(build: Callable[[], Net], state: Mapping[str, torch.Tensor]) -> Net:
    """``build()`` on the meta device (allocating nothing), then take over ``state`` (floats
    as float32): the network shares memory with ``state``'s float32 tensors."""
    with torch.device("meta"):
        net = build()
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    net.load_state_dict(tensors, strict=True, assign=True)
    return net
