"""Winograd F(6x6, 3x3) convolutions give what a direct 3x3 convolution gives.

The whole-network tests are at the end; the others pin down
the primitive: every activation, accumulation, image sizes that are not whole
tiles, several images, and bands that split the tile rows.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from upscale.run.cpu import winograd as wg

TOLERANCE = 2e-5  # relative to the output's size: fp32 transform rounding, nothing more


def _direct(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
            slopes: torch.Tensor) -> torch.Tensor:
    out = F.conv2d(x, weight, bias, padding=1)
    return torch.where(out >= 0, out, out * slopes.view(1, -1, 1, 1))


def _winograd(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
              slopes: torch.Tensor, dst: torch.Tensor | None = None,
              accumulate: bool = False) -> torch.Tensor:
    n, _, h, w = x.shape
    if dst is None:
        dst = wg.new_padded(n, h, w, weight.shape[0])
    wg.conv(wg.to_padded(x), h, w, wg.transform_weight(weight), bias, slopes, dst,
            wg.Workspace(), accumulate=accumulate)
    return wg.as_nchw(dst, h, w)


def _close(got: torch.Tensor, expected: torch.Tensor) -> None:
    scale = expected.abs().max().item()
    assert (got - expected).abs().max().item() <= TOLERANCE * scale


def test_the_kernels_compile_on_this_machine() -> None:
    """numba is a dependency: if its kernels fail here, the default path silently is not
    Winograd, which is a regression this must catch."""
    assert wg.kernels() is not None
    assert wg.available(torch.device("cpu"), torch.float32)
    assert not wg.available(torch.device("cpu"), torch.float16)
    assert not wg.available(torch.device("meta"), torch.float32)


@pytest.mark.parametrize("shape", [(1, 5, 1, 1), (1, 3, 4, 4), (2, 7, 5, 9), (1, 16, 13, 22)])
@pytest.mark.parametrize("slope", [1.0, 0.0, 0.2, "prelu"])
def test_conv_matches_direct_convolution(shape: tuple, slope: float | str) -> None:
    torch.manual_seed(sum(shape))
    x = torch.randn(*shape)
    c_out = 6
    weight = torch.randn(c_out, shape[1], 3, 3)
    bias = torch.randn(c_out)
    slopes = wg.activation_slopes(c_out, torch.randn(c_out) if slope == "prelu" else slope)
    _close(_winograd(x, weight, bias, slopes), _direct(x, weight, bias, slopes))


def test_accumulate_adds_the_convolution_and_keeps_the_border_zero() -> None:
    torch.manual_seed(1)
    x = torch.randn(2, 8, 11, 6)
    weight, bias = torch.randn(4, 8, 3, 3), torch.randn(4)
    start = torch.randn(2, 4, 11, 6)
    dst = wg.to_padded(start)
    ones = wg.activation_slopes(4, 1.0)
    got = _winograd(x, weight, bias, ones, dst=dst, accumulate=True)
    _close(got, start + F.conv2d(x, weight, bias, padding=1))
    border = dst.clone()
    wg.interior(border, 11, 6).zero_()
    assert not border.any(), "a kernel wrote outside the image"


def test_bands_that_split_tile_rows_and_images_give_the_same_result(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Large images are convolved a band of tile rows at a time; a band may end mid-image."""
    torch.manual_seed(2)
    x = torch.randn(3, 4, 28, 10)  # 5 tile rows per image, 2 tiles per row
    weight, bias = torch.randn(5, 4, 3, 3), torch.randn(5)
    slopes = wg.activation_slopes(5, 0.2)
    whole = _winograd(x, weight, bias, slopes).clone()
    monkeypatch.setattr(wg, "BAND_TILES", 5)  # two tile rows per band: bands straddle images
    banded = _winograd(x, weight, bias, slopes)
    # Not bit-equal: MKL sums a batched product of another batch size in another order.
    # A band that mixed up tiles or images would be off by whole values, not roundings.
    _close(banded, whole)
    _close(banded, _direct(x, weight, bias, slopes))


def test_weight_transform_folds_a_scale_factor_exactly() -> None:
    weight = torch.randn(3, 2, 3, 3)
    torch.testing.assert_close(wg.transform_weight(weight, 0.2),
                               wg.transform_weight(weight * 0.2), rtol=1e-6, atol=1e-7)
    assert wg.transform_weight(weight).shape == (wg.POSITIONS, 2, 3)


@pytest.mark.parametrize("kind", ["rrdb4", "rrdb2", "rrdb1", "srvgg2", "srvgg4-prelu"])
def test_known_networks_run_winograd_on_the_cpu_with_the_plain_function(kind):
    from helpers import tiny_rrdbnet, tiny_srvgg

    from upscale.archs.srvgg import SRVGGNetCompact
    from upscale.run import prepare_network
    from upscale.run.cpu.winograd_rrdbnet import WinogradRRDBNet
    from upscale.run.cpu.winograd_srvgg import WinogradSRVGGNetCompact

    if kind.startswith("rrdb"):
        network, expected_type = tiny_rrdbnet(int(kind[-1])), WinogradRRDBNet
    elif kind == "srvgg2":
        network, expected_type = tiny_srvgg(2), WinogradSRVGGNetCompact
    else:
        torch.manual_seed(3)
        network = SRVGGNetCompact(num_feat=8, num_conv=2, scale=4, act_type="prelu").eval()
        with torch.no_grad():
            for layer in network.body:
                if isinstance(layer, torch.nn.PReLU):
                    layer.weight.uniform_(-0.5, 1.5)
        expected_type = WinogradSRVGGNetCompact
    prepared = prepare_network(network, "cpu", "fp32")
    assert isinstance(prepared.module, expected_type)
    x = torch.rand(1, 3, 20, 28)
    with torch.no_grad():
        torch.testing.assert_close(prepared.module(x), network(x), rtol=2e-5, atol=2e-5)
