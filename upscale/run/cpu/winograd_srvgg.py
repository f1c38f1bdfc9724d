"""SRVGGNetCompact on the CPU with Winograd convolutions, which apply each activation
(PReLU too, which oneDNN cannot fuse): the same function, fewer multiplies."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ...archs.srvgg import LEAKY_SLOPE, SRVGGNetCompact
from . import winograd as wg

SLOPES = {"relu": 0.0, "leakyrelu": LEAKY_SLOPE}


class WinogradSRVGGNetCompact(nn.Module):
    """Inference-only SRVGGNetCompact, fp32 on the CPU; one forward at a time."""

    def __init__(self, network: SRVGGNetCompact) -> None:
        super().__init__()
        self.scale = network.scale
        act_type = network.hyperparameters["act_type"]
        layers = list(network.body)
        # body alternates conv, activation, ..., conv; pair each conv with what follows it.
        self.layers: list[wg.WinogradConv] = []
        for index in range(0, len(layers), 2):
            act = layers[index + 1] if index + 1 < len(layers) else None
            if act is None:
                slope: float | torch.Tensor = wg.NO_ACTIVATION
            elif isinstance(act, nn.PReLU):
                slope = act.weight
            else:
                slope = SLOPES[act_type]
            self.layers.append(wg.WinogradConv(self, layers[index], slope))
        self.workspace = wg.Workspace()

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        wg.match_threads()
        x = x.float()
        n, _, height, width = x.shape
        ws = self.workspace
        feat = wg.to_padded(x, ws.padded("input", n, height, width, x.shape[1]))
        maps = [ws.padded(f"feat{i}", n, height, width, self.layers[0].out_channels)
                for i in range(2)]
        for index, conv in enumerate(self.layers[:-1]):
            feat = conv(feat, height, width, ws, maps[index % 2])
        # Output channel c*s*s + k lands on pixel k of channel c's s-by-s block.
        last = self.layers[-1]
        repeats = last.out_channels // x.shape[1]
        base = ws.padded("base", n, height, width, last.out_channels)
        pixels = x.permute(0, 2, 3, 1)[..., None]
        wg.interior(base, height, width).view(n, height, width, x.shape[1], repeats).copy_(
            pixels.expand(n, height, width, x.shape[1], repeats))
        out = last(feat, height, width, ws, base, accumulate=True)
        return F.pixel_shuffle(wg.as_nchw(out, height, width), self.scale)
