"""RRDBNet on the CPU with Winograd convolutions: the same function, 5x fewer multiplies.

The dense block is where Winograd pays twice. Its five convolutions read the
growing concatenation ``x, x1, ..., x4``, and the Winograd input transform is
per channel, so each feature is transformed *once*, into its channel slice of
one ``[64, tiles, 192]`` buffer, and every later convolution of the block
multiplies the prefix it needs. Per block that is 192 channels transformed
instead of the 640 a convolution-by-convolution Winograd would do.

Also: x0.2 folded into conv5, which accumulates into the running residual;
LeakyReLU applied in the output transform; buffers reused across blocks and calls.

Kept beside the OpenVINO engine (issue 13) because on the 2-core development
machine it still measured faster than OpenVINO for x4plus from 128² up and for
animevideov3 at 1280×720 (``bench/RESULTS.md``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ...archs.rrdbnet import LEAKY_SLOPE, RESIDUAL_SCALE, RRDBNet
from . import winograd as wg


def channels_last(t: torch.Tensor) -> torch.Tensor:
    """The same values, stored NHWC (a padded map's layout, and oneDNN's fastest)."""
    return t.contiguous(memory_format=torch.channels_last)


class WinogradRRDBNet(nn.Module):
    """Inference-only RRDBNet for fp32 on the CPU; same inputs, same outputs.

    Not re-entrant: one forward at a time per instance (it reuses its buffers).
    """

    def __init__(self, network: RRDBNet) -> None:
        super().__init__()
        self.unshuffle = network.unshuffle
        self.num_feat = network.conv_first.out_channels
        self.num_grow_ch = network.body[0].rdb1.conv1.out_channels

        def take(conv: nn.Conv2d, slope: float, factor: float = 1.0) -> wg.WinogradConv:
            prepared = wg.WinogradConv(conv, slope, factor)
            wg.register_weights(self, prepared.tensors())
            return prepared

        self.conv_first = take(network.conv_first, wg.NO_ACTIVATION)
        self.blocks = [
            [[take(rdb.conv1, LEAKY_SLOPE), take(rdb.conv2, LEAKY_SLOPE),
              take(rdb.conv3, LEAKY_SLOPE), take(rdb.conv4, LEAKY_SLOPE),
              take(rdb.conv5, wg.NO_ACTIVATION, RESIDUAL_SCALE)]
             for rdb in (rrdb.rdb1, rrdb.rdb2, rrdb.rdb3)]
            for rrdb in network.body
        ]
        self.conv_body = take(network.conv_body, wg.NO_ACTIVATION)
        self.conv_up = [take(getattr(network, f"conv_up{i}"), LEAKY_SLOPE)
                        for i in range(1, network.num_up + 1)]
        self.conv_hr = take(network.conv_hr, LEAKY_SLOPE)
        # Three outputs: direct convolution is faster (see winograd.direct_conv).
        self.conv_last = (channels_last(network.conv_last.weight.detach().float()),
                          network.conv_last.bias.detach().float().contiguous())
        wg.register_weights(self, self.conv_last)
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
            wg.multiply(transformed[:, :, :known], conv.weight, grown_products)
            k.output_transform(grown_products.numpy(), conv.bias.numpy(), conv.slopes.numpy(),
                               grown_np, height, width, 0, rows, False)
            k.input_transform(grown_np, transformed_np, known, 0, rows)
        last = convs[4]
        wg.multiply(transformed, last.weight, products)
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
