"""A faster RRDBNet for inference that computes the same function as the plain one.

What differs from :class:`upscale.archs.rrdbnet.RRDBNet` (all measured in
``bench/speed.py``; see ``bench/RESULTS.md``):

* every feature map is channels_last (NHWC), oneDNN's fastest layout here;
* each dense block owns preallocated input buffers for conv2..conv5, so the
  growing concatenation is written into memory that is reused for every block
  and every call instead of freshly allocated by ``torch.cat`` (fresh large
  allocations page-fault: that, not the copying, is most of ``torch.cat``'s cost);
* LeakyReLU is fused into the convolutions;
* the dense block's x0.2 residual scale is folded into conv5's weights and bias,
  and conv5 accumulates straight into the running residual (oneDNN's sum post-op),
  so ``x + 0.2 * conv5(...)`` is one kernel with no temporary;
* the RRDB's outer ``x + 0.2 * y`` is one in-place ``add_``, and the trunk's
  ``feat + conv_body(...)`` accumulates conv_body into ``feat`` in place.

The weights are copied out of a loaded network once; the plain module stays the
reference and the owner of the weight layout.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..archs.rrdbnet import RESIDUAL_SCALE, RRDBNet
from .fast_ops import channels_last, conv3x3, conv3x3_accumulate_

LEAKY_SLOPE = 0.2
NETWORK_ATTRIBUTES = ("arch_name", "scale", "in_channels", "out_channels", "size_multiple",
                      "flops_per_pixel", "hyperparameters")


def _weights(conv: nn.Conv2d, factor: float = 1.0, *, device: torch.device,
             dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """A conv's weight and bias, scaled by ``factor``, in the fast path's layout."""
    weight = conv.weight.detach().to(device=device, dtype=dtype) * factor
    bias = conv.bias.detach().to(device=device, dtype=dtype) * factor
    return channels_last(weight), bias.contiguous()


def adopt_attributes(module: nn.Module, network: nn.Module) -> None:
    """Give a fast module the plain network's scale, channels, FLOPs etc.: callers read them."""
    for name in NETWORK_ATTRIBUTES:
        setattr(module, name, getattr(network, name))


def register_weights(module: nn.Module, tensors: tuple[torch.Tensor, ...]) -> None:
    """Register as (non-persistent) buffers, so ``module.buffers()`` tells device and dtype."""
    for tensor in tensors:
        if tensor is not None:
            module.register_buffer(f"tensor{len(module._buffers)}", tensor, persistent=False)


class _Workspace:
    """Dense-block buffers for one input shape, reused across blocks and calls."""

    def __init__(self, like: torch.Tensor, num_grow_ch: int) -> None:
        n, feat, h, w = like.shape
        self.shape = like.shape
        options = dict(device=like.device, dtype=like.dtype)
        # dense[k] holds cat(x, x1, ..., x_{k+1}): the input of conv_{k+2}.
        self.dense = [channels_last(torch.empty(n, feat + k * num_grow_ch, h, w, **options))
                      for k in range(1, 5)]
        self.trunk = channels_last(torch.empty(n, feat, h, w, **options))
        self.residual = channels_last(torch.empty(n, feat, h, w, **options))


class FastRRDBNet(nn.Module):
    """Inference-only RRDBNet; same inputs, same outputs, fewer memory passes.

    Not re-entrant: one forward at a time per instance (it reuses its buffers).
    """

    def __init__(self, network: RRDBNet, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        device = torch.device(device)
        adopt_attributes(self, network)
        self.unshuffle = network.unshuffle
        self.num_grow_ch = network.body[0].rdb1.conv1.out_channels

        def take(conv: nn.Conv2d, factor: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
            pair = _weights(conv, factor, device=device, dtype=dtype)
            register_weights(self, pair)
            return pair

        self.conv_first = take(network.conv_first)
        self.blocks = [
            [[take(rdb.conv1), take(rdb.conv2), take(rdb.conv3), take(rdb.conv4),
              take(rdb.conv5, RESIDUAL_SCALE)] for rdb in (rrdb.rdb1, rrdb.rdb2, rrdb.rdb3)]
            for rrdb in network.body
        ]
        self.conv_body = take(network.conv_body)
        self.conv_up = [take(getattr(network, f"conv_up{i}"))
                        for i in range(1, network.num_up + 1)]
        self.conv_hr = take(network.conv_hr)
        self.conv_last = take(network.conv_last)
        self._workspace: _Workspace | None = None

    def _workspace_for(self, feat: torch.Tensor) -> _Workspace:
        ws = self._workspace
        # Buffers made under inference_mode cannot be written outside it: rebuild on a switch.
        if (ws is None or ws.shape != feat.shape or ws.trunk.dtype != feat.dtype
                or ws.trunk.is_inference() != torch.is_inference_mode_enabled()):
            ws = self._workspace = _Workspace(feat, self.num_grow_ch)
        return ws

    def _dense_block_(self, x: torch.Tensor, convs: list, ws: _Workspace) -> None:
        """x += 0.2 * conv5(cat(x, x1..x4)), in place, with no per-block allocation."""
        feat = x.shape[1]
        grow = self.num_grow_ch
        previous = x
        for k, buffer in enumerate(ws.dense):
            new = conv3x3(previous, *convs[k], leaky_slope=LEAKY_SLOPE)
            known = feat + k * grow
            buffer[:, :known].copy_(x if k == 0 else ws.dense[k - 1])
            buffer[:, known:].copy_(new)
            previous = buffer
        conv3x3_accumulate_(x, ws.dense[-1], *convs[4])  # conv5 carries the 0.2

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = channels_last(x)
        if self.unshuffle > 1:
            x = channels_last(F.pixel_unshuffle(x, self.unshuffle))
        feat = conv3x3(x, *self.conv_first)
        ws = self._workspace_for(feat)
        trunk, residual = ws.trunk, ws.residual
        trunk.copy_(feat)
        for rrdb in self.blocks:
            residual.copy_(trunk)
            for convs in rrdb:
                self._dense_block_(residual, convs, ws)
            trunk.add_(residual, alpha=RESIDUAL_SCALE)
        conv3x3_accumulate_(feat, trunk, *self.conv_body)
        for weight, bias in self.conv_up:
            feat = conv3x3(F.interpolate(feat, scale_factor=2, mode="nearest"), weight, bias,
                           leaky_slope=LEAKY_SLOPE)
        feat = conv3x3(feat, *self.conv_hr, leaky_slope=LEAKY_SLOPE)
        return conv3x3(feat, *self.conv_last)
