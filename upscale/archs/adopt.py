"""Build a network around existing tensors without paying for a random initialisation.

A network built the ordinary way draws random weights for every layer (about
17 M numbers for RRDBNet) and then copies the checkpoint over them. Building
on the meta device allocates nothing, and ``assign=True`` makes the loaded
tensors the parameters, so loading costs only reading the file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import torch
from torch import nn

Net = TypeVar("Net", bound=nn.Module)


def adopt(build: Callable[[], Net], state: Mapping[str, torch.Tensor]) -> Net:
    """``build()`` on the meta device, then take over ``state`` (floats as float32).

    The network shares memory with ``state``'s float32 tensors: callers that
    keep mutating those tensors should pass copies.
    """
    with torch.device("meta"):
        net = build()
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    net.load_state_dict(tensors, strict=True, assign=True)
    return net
