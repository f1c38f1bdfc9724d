"""Make an input tensor acceptable to a network, and crop the result back.

Pixel-unshuffle networks need sides that are multiples of 2 or 4, and a network
may declare a smallest side. Padding by reflection keeps the added border
looking like the image, so nothing leaks into the pixels that are kept.
PyTorch's reflection needs the pad to be smaller than the side, so larger pads
reflect repeatedly, and a one-pixel side is replicated.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ..model import SizeRequirements


def _pad_last_dim(x: torch.Tensor, amount: int) -> torch.Tensor:
    """Extend the last dimension at its end by reflection, repeated as often as needed."""
    while amount > 0:
        side = x.shape[-1]
        if side == 1:
            flat = x.reshape(-1, 1, side)
            return F.pad(flat, (0, amount), mode="replicate").reshape(*x.shape[:-1], side + amount)
        step = min(amount, side - 1)
        flat = x.reshape(-1, 1, side)
        x = F.pad(flat, (0, step), mode="reflect").reshape(*x.shape[:-1], side + step)
        amount -= step
    return x


def reflect_pad(x: torch.Tensor, bottom: int, right: int) -> torch.Tensor:
    """Pad an N×C×H×W tensor at the bottom and right by (repeated) reflection."""
    if right:
        x = _pad_last_dim(x, right)
    if bottom:
        x = _pad_last_dim(x.transpose(-1, -2), bottom).transpose(-1, -2)
    return x.contiguous()


def fit_to_network(x: torch.Tensor, size: SizeRequirements) -> tuple[torch.Tensor, int, int]:
    """Pad ``x`` so the network takes it; returns the tensor and the original height and width."""
    height, width = x.shape[-2:]
    fitted_height, fitted_width = size.fit_shape(height, width)
    return reflect_pad(x, fitted_height - height, fitted_width - width), height, width
