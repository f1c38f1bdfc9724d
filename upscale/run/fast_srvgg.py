"""A faster SRVGGNetCompact for inference that computes the same function.

What differs from :class:`upscale.archs.srvgg.SRVGGNetCompact`:

* channels_last feature maps;
* ReLU / LeakyReLU fused into the convolutions (PReLU stays a separate op:
  oneDNN has no per-channel post-op reachable from PyTorch);
* the nearest-upsampled input is added *before* the pixel shuffle, by having the
  last convolution accumulate into the input repeated ``scale**2`` times per channel
  (which is where each of those values lands after the shuffle), instead of
  upsampling the input and adding at full output resolution.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..archs.srvgg import SRVGGNetCompact
from .fast_ops import channels_last, conv3x3, conv3x3_accumulate_, conv3x3_relu
from .fast_rrdbnet import adopt_attributes, register_weights


class FastSRVGGNetCompact(nn.Module):
    """Inference-only SRVGGNetCompact; same inputs, same outputs."""

    def __init__(self, network: SRVGGNetCompact, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        device = torch.device(device)
        adopt_attributes(self, network)
        self.act_type = network.hyperparameters["act_type"]
        layers = list(network.body)
        # body alternates conv, activation, ..., conv; pair each conv with what follows it.
        self.layers: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] = []
        for index in range(0, len(layers), 2):
            conv = layers[index]
            weight = channels_last(conv.weight.detach().to(device=device, dtype=dtype))
            bias = conv.bias.detach().to(device=device, dtype=dtype).contiguous()
            act = layers[index + 1] if index + 1 < len(layers) else None
            slope = (act.weight.detach().to(device=device, dtype=dtype)
                     if isinstance(act, nn.PReLU) else None)
            self.layers.append((weight, bias, slope))
            register_weights(self, (weight, bias, slope))

    def _activate(self, conv_out_args: tuple, slope: torch.Tensor | None,
                  x: torch.Tensor) -> torch.Tensor:
        weight, bias = conv_out_args
        if self.act_type == "relu":
            return conv3x3_relu(x, weight, bias)
        if self.act_type == "leakyrelu":
            return conv3x3(x, weight, bias, leaky_slope=0.1)
        return F.prelu(conv3x3(x, weight, bias), slope)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = channels_last(x)
        feat = x
        for weight, bias, slope in self.layers[:-1]:
            feat = self._activate((weight, bias), slope, feat)
        weight, bias, _ = self.layers[-1]
        # Output channel c*s*s + k lands on pixel k of channel c's s-by-s block.
        base = channels_last(x.repeat_interleave(self.scale * self.scale, dim=1))
        out = conv3x3_accumulate_(base, feat, weight, bias)
        return F.pixel_shuffle(out, self.scale)
