"""Tiny networks with known behaviour, written by the tests themselves."""

from __future__ import annotations

import torch

from upscale.archs.rrdbnet import RRDBNet
from upscale.archs.srvgg import SRVGGNetCompact


def tiny_rrdbnet(scale: int = 4, seed: int = 0) -> RRDBNet:
    torch.manual_seed(seed)
    return RRDBNet(scale=scale, num_block=1, num_feat=8, num_grow_ch=4).eval()


def tiny_srvgg(scale: int = 2, seed: int = 0) -> SRVGGNetCompact:
    torch.manual_seed(seed)
    return SRVGGNetCompact(num_feat=4, num_conv=1, scale=scale).eval()


def nearest_upsampler(scale: int = 2) -> SRVGGNetCompact:
    """An SRVGGNetCompact whose convolutions are zero: it is exactly nearest upsampling."""
    net = SRVGGNetCompact(num_feat=4, num_conv=1, scale=scale).eval()
    with torch.no_grad():
        for param in net.parameters():
            param.zero_()
    return net
