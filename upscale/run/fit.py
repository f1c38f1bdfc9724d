"""Pad an input to the sides a network takes (multiples, a smallest side) by reflection,
which keeps the border looking like the image."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ..model import SizeRequirements


def _pad_last_dim(x: torch.Tensor, amount: int) -> torch.Tensor:
    """Extend the last dimension by reflection, repeated where the pad exceeds the side."""
    while amount > 0:
        side = x.shape[-1]
        mode, step = ("replicate", amount) if side == 1 else ("reflect", min(amount, side - 1))
        x = F.pad(x.reshape(-1, 1, side), (0, step), mode=mode).reshape(*x.shape[:-1], side + step)
        amount -= step
    return x


def fit_to_network(x: torch.Tensor, size: SizeRequirements) -> tuple[torch.Tensor, int, int]:
    """Pad ``x`` at the bottom and right so the network takes it; also its height and width."""
    height, width = x.shape[-2:]
    fitted_height, fitted_width = size.fit_shape(height, width)
    if fitted_width > width:
        x = _pad_last_dim(x, fitted_width - width)
    if fitted_height > height:
        x = _pad_last_dim(x.transpose(-1, -2), fitted_height - height).transpose(-1, -2)
    return x.contiguous(), height, width
