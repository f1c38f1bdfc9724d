"""SRVGGNetCompact: Real-ESRGAN's small VGG-style network for video and anime: 3x3
convolutions at input resolution, a pixel shuffle, and the nearest-upsampled input added."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn
from torch.nn import functional as F

from ..model import ModelDescriptor, SizeRequirements
from .adopt import adopt

ARCH_NAME = "SRVGGNetCompact"
ACTIVATIONS = ("prelu", "relu", "leakyrelu")
LEAKY_SLOPE = 0.1  # BasicSR's for SRVGGNetCompact's "leakyrelu"


def _activation(kind: str, num_feat: int) -> nn.Module:
    if kind == "prelu":
        return nn.PReLU(num_parameters=num_feat)
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "leakyrelu":
        return nn.LeakyReLU(negative_slope=LEAKY_SLOPE, inplace=True)
    raise ValueError(f"unknown activation {kind!r}; expected one of {ACTIVATIONS}")


class SRVGGNetCompact(nn.Module):
    """``num_conv`` hidden convolutions, then pixel shuffle by ``scale``."""

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        num_feat: int = 64,
        num_conv: int = 16,
        scale: int = 4,
        act_type: str = "prelu",
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.scale = in_channels, out_channels, scale
        self.hyperparameters = dict(
            in_channels=in_channels, out_channels=out_channels, num_feat=num_feat,
            num_conv=num_conv, scale=scale, act_type=act_type,
        )
        layers: list[nn.Module] = []
        for conv_in in (in_channels, *[num_feat] * num_conv):
            layers += [nn.Conv2d(conv_in, num_feat, 3, 1, 1), _activation(act_type, num_feat)]
        layers.append(nn.Conv2d(num_feat, out_channels * scale * scale, 3, 1, 1))
        self.body = nn.ModuleList(layers)
        self.upsampler = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        out = self.upsampler(out)
        # in place: one full-size output alive, not the sum's as well
        return out.add_(F.interpolate(x, scale_factor=self.scale, mode="nearest"))


def from_state_dict(state: dict[str, torch.Tensor], hints: Mapping[str, str]
                    ) -> SRVGGNetCompact | None:
    """An SRVGGNetCompact holding these weights, or None unless they are a ``body.N`` list of
    4-D convs at even N (PReLU weights at odd N). Without PReLU weights the activation is
    LeakyReLU (BasicSR's default) unless ``hints["act_type"]`` says ReLU, which has none."""
    if any(not k.startswith("body.") for k in state):
        return None
    convs = sorted(int(k.split(".")[1]) for k in state
                   if k.endswith(".weight") and state[k].ndim == 4)
    if len(convs) < 2 or convs != list(range(0, 2 * len(convs), 2)):
        return None
    num_feat, in_channels = state["body.0.weight"].shape[:2]
    ratio = state[f"body.{convs[-1]}.weight"].shape[0] / in_channels
    scale = math.isqrt(int(ratio))
    if not ratio.is_integer() or scale**2 != ratio:
        return None
    has_prelu = any(state[k].ndim == 1 and k.endswith(".weight") and int(k.split(".")[1]) % 2
                    for k in state)
    params = dict(in_channels=int(in_channels), out_channels=int(in_channels),
                  num_feat=int(num_feat), num_conv=len(convs) - 2, scale=scale,
                  act_type=hints.get("act_type") or ("prelu" if has_prelu else "leakyrelu"))
    return adopt(lambda: SRVGGNetCompact(**params), state)


def describe(net: SRVGGNetCompact) -> ModelDescriptor:
    """The model contract's facts: any input size; one pixel of reach per conv."""
    num_conv = net.hyperparameters["num_conv"]
    return ModelDescriptor(
        module=net, architecture=ARCH_NAME, scale=net.scale, in_channels=net.in_channels,
        out_channels=net.out_channels, size=SizeRequirements(),
        receptive_radius=float(num_conv + 2), hyperparameters=dict(net.hyperparameters))


NETWORK = SRVGGNetCompact
