"""The fast inference paths compute the same function as the plain networks.

Two CPU paths exist: Winograd convolutions (the default, with numba) and direct
oneDNN convolutions (without numba). Every behaviour here holds for both.
"""

from __future__ import annotations

import pytest
import torch

from upscale.archs.rrdbnet import RRDBNet
from upscale.archs.srvgg import SRVGGNetCompact
from upscale.run import fast_ops
from upscale.run.fast_rrdbnet import FastRRDBNet
from upscale.run.fast_srvgg import FastSRVGGNetCompact
from upscale.run.optimize import optimize_network
from upscale.run.winograd_rrdbnet import WinogradRRDBNet
from upscale.run.winograd_srvgg import WinogradSRVGGNetCompact

TOLERANCE = 1e-5  # fp32 rounding differs (folded x0.2, NHWC, Winograd); nothing else may

PATHS = {  # optimize_network's winograd flag -> the classes it must return
    "winograd": (True, WinogradRRDBNet, WinogradSRVGGNetCompact),
    "direct": (False, FastRRDBNet, FastSRVGGNetCompact),
}


@pytest.fixture(params=list(PATHS))
def path(request: pytest.FixtureRequest) -> tuple:
    return PATHS[request.param]


def _optimize(plain: torch.nn.Module, path: tuple) -> torch.nn.Module:
    return optimize_network(plain, "cpu", torch.float32, winograd=path[0])


def _rrdbnet(scale: int, seed: int = 0) -> RRDBNet:
    torch.manual_seed(seed)
    return RRDBNet(scale=scale, num_block=2, num_feat=16, num_grow_ch=8).eval()


def _srvgg(scale: int, act_type: str, seed: int = 0) -> SRVGGNetCompact:
    torch.manual_seed(seed)
    net = SRVGGNetCompact(num_feat=8, num_conv=3, scale=scale, act_type=act_type).eval()
    if act_type == "prelu":  # trained slopes are not all 0.25; include negative and >1
        with torch.no_grad():
            for layer in net.body:
                if isinstance(layer, torch.nn.PReLU):
                    layer.weight.uniform_(-0.5, 1.5)
    return net


def _same_function(plain: torch.nn.Module, fast: torch.nn.Module, x: torch.Tensor) -> None:
    with torch.no_grad():
        expected = plain(x)
        got = fast(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=TOLERANCE, atol=TOLERANCE)


@pytest.mark.parametrize("scale", [1, 2, 4, 8])
def test_fast_rrdbnet_matches_the_plain_network_at_every_scale(scale: int, path: tuple) -> None:
    plain = _rrdbnet(scale)
    fast = _optimize(plain, path)
    assert isinstance(fast, path[1])
    _same_function(plain, fast, torch.rand(1, 3, 12, 16))


@pytest.mark.parametrize("scale", [1, 2, 3, 4])
@pytest.mark.parametrize("act_type", ["prelu", "relu", "leakyrelu"])
def test_fast_srvgg_matches_the_plain_network(scale: int, act_type: str, path: tuple) -> None:
    plain = _srvgg(scale, act_type)
    fast = _optimize(plain, path)
    assert isinstance(fast, path[2])
    _same_function(plain, fast, torch.rand(1, 3, 9, 13))


def test_fast_networks_accept_batches_and_changing_shapes(path: tuple) -> None:
    """Buffers are reused per shape; a new shape or batch size must not leak old data.

    Sizes that share a tile count (13 and 15 both need 3 Winograd tiles) but not a
    size are included: a map reused between them would carry stale border pixels.
    """
    plain = _rrdbnet(4, seed=3)
    fast = _optimize(plain, path)
    for shape in [(2, 3, 8, 8), (1, 3, 15, 20), (1, 3, 13, 17), (2, 3, 8, 8), (3, 3, 4, 4),
                  (1, 3, 1, 1), (1, 3, 15, 20)]:
        _same_function(plain, fast, torch.rand(*shape))
    plain_vgg = _srvgg(4, "prelu", seed=3)
    fast_vgg = _optimize(plain_vgg, path)
    for shape in [(4, 3, 6, 6), (1, 3, 15, 7), (1, 3, 13, 5), (1, 3, 15, 7)]:
        _same_function(plain_vgg, fast_vgg, torch.rand(*shape))


def test_fast_path_leaves_input_and_plain_network_untouched(path: tuple) -> None:
    plain = _rrdbnet(4, seed=5)
    before = {k: v.clone() for k, v in plain.state_dict().items()}
    fast = _optimize(plain, path)
    x = torch.rand(1, 3, 8, 8)
    x_copy = x.clone()
    with torch.no_grad():
        fast(x)
    assert torch.equal(x, x_copy)
    for key, value in plain.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_fast_modules_expose_the_network_attributes(path: tuple) -> None:
    for plain in (_rrdbnet(2), _srvgg(4, "prelu")):
        fast = _optimize(plain, path)
        for name in ("arch_name", "scale", "in_channels", "out_channels", "size_multiple",
                     "flops_per_pixel", "hyperparameters"):
            assert getattr(fast, name) == getattr(plain, name), name


def test_fallback_without_onednn_fusion_gives_the_same_output(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Builds without torch.ops.mkldnn take the plain F.conv2d route to the same result."""
    monkeypatch.setattr(fast_ops, "FUSED", False)
    for plain in (_rrdbnet(4, seed=7), _srvgg(2, "leakyrelu", seed=7), _srvgg(2, "relu")):
        _same_function(plain, _optimize(plain, PATHS["direct"]), torch.rand(1, 3, 8, 12))


def test_optimize_returns_networks_it_cannot_speed_up_unchanged() -> None:
    plain = _rrdbnet(4)
    assert optimize_network(plain, "cpu", torch.float16) is plain
    assert optimize_network(plain, "cpu", torch.bfloat16) is plain
    other = torch.nn.Conv2d(3, 3, 3)
    assert optimize_network(other, "cpu", torch.float32) is other


def test_fast_modules_report_their_device_and_dtype_through_buffers(path: tuple) -> None:
    for plain in (_rrdbnet(4), _srvgg(2, "prelu")):
        tensors = list(_optimize(plain, path).buffers())
        assert tensors
        assert all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)


def test_fast_rrdbnet_works_inside_and_outside_inference_mode_in_any_order(path: tuple) -> None:
    plain = _rrdbnet(4, seed=9)
    fast = _optimize(plain, path)
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        expected = plain(x)
    with torch.inference_mode():
        inside = fast(x)
    outside = fast(x)
    torch.testing.assert_close(inside, expected, rtol=TOLERANCE, atol=TOLERANCE)
    torch.testing.assert_close(outside, expected, rtol=TOLERANCE, atol=TOLERANCE)


def test_the_default_cpu_path_is_winograd_and_without_numba_it_is_the_direct_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """numba is a dependency, so the default must really be Winograd here; a machine where
    its kernels cannot load (no numba, a failed compile) still gets the direct fast path."""
    from upscale.run import winograd

    plain, plain_vgg = _rrdbnet(4), _srvgg(4, "prelu")
    assert isinstance(optimize_network(plain), WinogradRRDBNet)
    assert isinstance(optimize_network(plain_vgg), WinogradSRVGGNetCompact)
    monkeypatch.setattr(winograd, "kernels", lambda: None)
    assert isinstance(optimize_network(plain), FastRRDBNet)
    assert isinstance(optimize_network(plain_vgg), FastSRVGGNetCompact)
