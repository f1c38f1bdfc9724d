"""RRDBNet on the CPU with Winograd convolutions: in a dense block each of ``x, x1, ..., x4`` is
transformed once, into one buffer whose prefixes later convolutions use (192 channels, not 640).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ...archs.rrdbnet import LEAKY_SLOPE, RESIDUAL_SCALE, RRDBNet
from . import winograd as wg


class WinogradRRDBNet(nn.Module):
    """Inference-only RRDBNet, fp32 on the CPU; one forward at a time (it reuses buffers)."""

    def __init__(self, network: RRDBNet) -> None:
        super().__init__()
        self.unshuffle = network.unshuffle
        self.num_feat = network.conv_first.out_channels
        self.num_grow_ch = network.body[0].rdb1.conv1.out_channels
        no_act = wg.NO_ACTIVATION
        self.conv_first = wg.WinogradConv(self, network.conv_first, no_act)
        self.blocks = [
            [[*(wg.WinogradConv(self, conv, LEAKY_SLOPE)
                for conv in (rdb.conv1, rdb.conv2, rdb.conv3, rdb.conv4)),
              wg.WinogradConv(self, rdb.conv5, no_act, RESIDUAL_SCALE)]
             for rdb in (rrdb.rdb1, rrdb.rdb2, rrdb.rdb3)]
            for rrdb in network.body
        ]
        self.conv_body = wg.WinogradConv(self, network.conv_body, no_act)
        self.conv_up = [wg.WinogradConv(self, getattr(network, f"conv_up{i}"), LEAKY_SLOPE)
                        for i in range(1, network.num_up + 1)]
        self.conv_hr = wg.WinogradConv(self, network.conv_hr, LEAKY_SLOPE)
        # Three outputs: direct convolution is faster (see winograd.direct_conv).
        weight, bias = network.conv_last.weight.detach(), network.conv_last.bias.detach()
        self.conv_last = (weight.float().contiguous(memory_format=torch.channels_last),
                          bias.float().contiguous())
        wg.register_weights(self, *self.conv_last)
        self.workspace = wg.Workspace()

    def _dense_block_(self, x: torch.Tensor, height: int, width: int,
                      convs: list[wg.WinogradConv]) -> None:
        """x += 0.2 * conv5(cat(x, x1..x4)) on a padded map, in place."""
        k = wg.kernels()
        n = x.shape[0]
        rows = n * wg.tiles(height)
        count = rows * wg.tiles(width)
        feat, grow = self.num_feat, self.num_grow_ch
        ws = self.workspace
        transformed = ws.get("dense_in", wg.POSITIONS, count, feat + 4 * grow)
        products = ws.get("dense_out", wg.POSITIONS, count, feat)
        # conv1..4's products share conv5's storage: a contiguous [64, tiles, grow] prefix.
        grown_products = products.view(-1)[:wg.POSITIONS * count * grow].view(
            wg.POSITIONS, count, grow)
        grown = ws.padded("grown", n, height, width, grow)
        transformed_np, grown_np = transformed.numpy(), grown.numpy()
        k.input_transform(x.numpy(), transformed_np, 0, 0, rows)
        for index, conv in enumerate(convs[:4]):
            known = feat + index * grow
            torch.bmm(transformed[:, :, :known], conv.weight, out=grown_products)
            k.output_transform(grown_products.numpy(), conv.bias.numpy(), conv.slopes.numpy(),
                               grown_np, height, width, 0, rows, False)
            k.input_transform(grown_np, transformed_np, known, 0, rows)
        last = convs[4]
        torch.bmm(transformed, last.weight, out=products)
        k.output_transform(products.numpy(), last.bias.numpy(), last.slopes.numpy(),
                           x.numpy(), height, width, 0, rows, True)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        wg.match_threads()
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        n, channels, height, width = x.shape
        ws = self.workspace
        # Every map comes from the workspace: a fresh 1024x1024x64 map costs more to
        # page in (~290 ms) than the convolution that fills it.
        size = (n, height, width, self.num_feat)
        image = wg.to_padded(x.float(), ws.padded("input", n, height, width, channels))
        feat = self.conv_first(image, height, width, ws, ws.padded("feat", *size))
        trunk = ws.padded("trunk", *size)
        trunk.copy_(feat)
        residual = ws.padded("residual", *size)
        for rrdb in self.blocks:
            residual.copy_(trunk)
            for convs in rrdb:
                self._dense_block_(residual, height, width, convs)
            trunk.add_(residual, alpha=RESIDUAL_SCALE)
        self.conv_body(trunk, height, width, ws, feat, accumulate=True)
        spare = None
        for index, conv in enumerate(self.conv_up):
            size = (n, 2 * height, 2 * width, self.num_feat)
            spare = ws.padded(f"upsampled{index}", *size)
            wg.upsample_nearest2x(feat, height, width, spare)
            height, width = 2 * height, 2 * width
            feat = conv(spare, height, width, ws, ws.padded(f"up{index}", *size))
        # conv_hr may overwrite the last upsampled map: nothing reads it any more.
        hr = spare if spare is not None else ws.padded("hr", *size)
        feat = self.conv_hr(feat, height, width, ws, hr)
        return wg.direct_conv(feat, height, width, *self.conv_last)
