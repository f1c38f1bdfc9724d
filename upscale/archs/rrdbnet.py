"""RRDBNet: ESRGAN / Real-ESRGAN's residual-in-residual dense block network, under BasicSR's
names (:func:`canonicalize` renames both ESRGAN layouts to them). Scale 1 and 2 networks
take a pixel-unshuffled input, as BasicSR's do; scale 8 adds a third upsampling stage."""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import nn
from torch.nn import functional as F

from ..model import ModelDescriptor, SizeRequirements
from .adopt import adopt

ARCH_NAME = "RRDBNet"
RESIDUAL_SCALE = 0.2
LEAKY_SLOPE = 0.2  # every activation of ESRGAN's generator


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convolutions; output = input + 0.2 * conv5."""

    def __init__(self, num_feat: int, num_grow_ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = F.leaky_relu(self.conv1(x), LEAKY_SLOPE)
        x2 = F.leaky_relu(self.conv2(torch.cat((x, x1), 1)), LEAKY_SLOPE)
        x3 = F.leaky_relu(self.conv3(torch.cat((x, x1, x2), 1)), LEAKY_SLOPE)
        x4 = F.leaky_relu(self.conv4(torch.cat((x, x1, x2, x3), 1)), LEAKY_SLOPE)
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x + x5 * RESIDUAL_SCALE


class RRDB(nn.Module):
    """Three dense blocks behind one more 0.2-scaled residual connection."""

    def __init__(self, num_feat: int, num_grow_ch: int) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.rdb3(self.rdb2(self.rdb1(x))) * RESIDUAL_SCALE


class RRDBNet(nn.Module):
    """ESRGAN generator for scale 1, 2, 4 or 8."""

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        scale: int = 4,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
    ) -> None:
        super().__init__()
        if scale not in (1, 2, 4, 8):
            raise ValueError(f"RRDBNet supports scale 1, 2, 4 or 8, not {scale}")
        self.in_channels, self.out_channels, self.scale = in_channels, out_channels, scale
        self.hyperparameters = dict(
            in_channels=in_channels, out_channels=out_channels, scale=scale,
            num_feat=num_feat, num_block=num_block, num_grow_ch=num_grow_ch,
        )
        self.unshuffle = {1: 4, 2: 2}.get(scale, 1)
        num_up = {8: 3}.get(scale, 2)
        self.conv_first = nn.Conv2d(in_channels * self.unshuffle**2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow_ch) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        for i in range(1, num_up + 1):
            setattr(self, f"conv_up{i}", nn.Conv2d(num_feat, num_feat, 3, 1, 1))
        self.num_up = num_up
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, out_channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        # At full resolution each map is rebound as soon as the next exists and activations run
        # in place, so at most two full-size maps are alive at once (a convolution's input and
        # output): the memory estimate in run/memory.py counts on that.
        for i in range(1, self.num_up + 1):
            conv = getattr(self, f"conv_up{i}")
            feat = F.interpolate(feat, scale_factor=2, mode="nearest")
            feat = F.leaky_relu(conv(feat), LEAKY_SLOPE, inplace=True)
        feat = F.leaky_relu(self.conv_hr(feat), LEAKY_SLOPE, inplace=True)
        return self.conv_last(feat)


_NEW_ARCH_RENAMES = (
    (re.compile(r"^RRDB_trunk\."), "body."),
    (re.compile(r"\.RDB(\d)\."), r".rdb\1."),
    (re.compile(r"^trunk_conv\."), "conv_body."),
    (re.compile(r"^upconv(\d)\."), r"conv_up\1."),
    (re.compile(r"^HRconv\."), "conv_hr."),
)
_OLD_BLOCK = re.compile(r"^model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)$")
_OLD_TOP = re.compile(r"^model\.(\d+)\.(weight|bias)$")
_OLD_TRUNK = re.compile(r"^model\.1\.sub\.(\d+)\.(weight|bias)$")


def _from_original_esrgan(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the original ESRGAN ``model.N`` sequential layout to BasicSR names."""
    out: dict[str, torch.Tensor] = {}
    top: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if m := _OLD_BLOCK.match(key):
            block, rdb, conv, kind = m.groups()
            out[f"body.{block}.rdb{rdb}.conv{conv}.{kind}"] = value
        elif m := _OLD_TRUNK.match(key):
            out[f"conv_body.{m.group(2)}"] = value
        elif m := _OLD_TOP.match(key):
            top.setdefault(int(m.group(1)), {})[m.group(2)] = value
        else:
            out[key] = value  # left for the shape check to reject
    indices = sorted(top)
    if len(indices) < 4 or indices[0] != 0:
        return out
    # model.0 = conv_first; after the trunk: upsampling convs, then HR conv, then last conv.
    names = ["conv_first"]
    names += [f"conv_up{i}" for i in range(1, len(indices) - 2)]
    names += ["conv_hr", "conv_last"]
    for index, name in zip(indices, names, strict=True):
        for kind, value in top[index].items():
            out[f"{name}.{kind}"] = value
    return out


def canonicalize(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
    """Return the state under BasicSR names, or None when this is not an RRDBNet."""
    if "model.0.weight" in state and any(k.startswith("model.1.sub.") for k in state):
        state = _from_original_esrgan(state)
    elif "conv_first.weight" in state and any(k.startswith("RRDB_trunk.") for k in state):
        renamed = {}
        for key, value in state.items():
            for pattern, repl in _NEW_ARCH_RENAMES:
                key = pattern.sub(repl, key)
            renamed[key] = value
        state = renamed
    required = ("conv_first.weight", "body.0.rdb1.conv1.weight", "conv_body.weight",
                "conv_up1.weight", "conv_hr.weight", "conv_last.weight")
    if not all(k in state for k in required):
        return None
    return state


def from_state_dict(state: dict[str, torch.Tensor], hints: Mapping[str, str]) -> RRDBNet | None:
    """An RRDBNet holding these weights (all its facts are in their shapes), or None."""
    state = canonicalize(state)
    if state is None:
        return None
    num_feat, first_in = state["conv_first.weight"].shape[:2]
    out_channels = state["conv_last.weight"].shape[0]
    num_up = sum(1 for i in (1, 2, 3) if f"conv_up{i}.weight" in state)
    # conv_first sees in_channels * unshuffle^2 channels; assume in == out channels.
    unshuffle = {1: 1, 4: 2, 16: 4}.get(first_in // out_channels)
    if unshuffle is None or first_in % out_channels:
        unshuffle, in_channels = 1, first_in
    else:
        in_channels = out_channels
    params = dict(
        in_channels=int(in_channels), out_channels=int(out_channels),
        scale={2: 4, 3: 8}[num_up] // unshuffle if num_up in (2, 3) else 0,
        num_feat=int(num_feat), num_grow_ch=int(state["body.0.rdb1.conv1.weight"].shape[0]),
        num_block=len({int(k.split(".")[1]) for k in state if k.startswith("body.")}))
    return adopt(lambda: RRDBNet(**params), state)


def describe(net: RRDBNet) -> ModelDescriptor:
    """The model contract's facts for an RRDBNet: pixel-unshuffle sets the size multiple, and
    each 3x3 conv sees one pixel further at its grid (each upsampling halves the step)."""
    trunk = 2 + 15 * len(net.body)
    upsampling = sum(0.5**i for i in range(1, net.num_up + 1))
    return ModelDescriptor(
        module=net, architecture=ARCH_NAME, scale=net.scale, in_channels=net.in_channels,
        out_channels=net.out_channels, size=SizeRequirements(multiple_of=net.unshuffle),
        receptive_radius=net.unshuffle * (trunk + upsampling + 2 * 0.5**net.num_up),
        hyperparameters=dict(net.hyperparameters))


NETWORK = RRDBNet
