"""Networks are rebuilt from their tensors alone, for every supported shape."""

from __future__ import annotations

import math

import pytest
import torch

from upscale.archs import build_model, describe
from upscale.archs.rrdbnet import RRDBNet
from upscale.archs.srvgg import SRVGGNetCompact
from upscale.errors import UnsupportedModelError


@pytest.mark.parametrize("scale", [1, 2, 4, 8])
def test_rrdbnet_every_scale_is_detected_and_upscales(scale):
    torch.manual_seed(0)
    original = RRDBNet(scale=scale, num_block=2, num_feat=8, num_grow_ch=4).eval()
    rebuilt = build_model(original.state_dict())
    assert rebuilt.architecture == "RRDBNet"
    assert rebuilt.hyperparameters == original.hyperparameters
    x = torch.rand(1, 3, 8, 12)
    with torch.inference_mode():
        out = rebuilt.module(x)
        assert torch.equal(out, original(x))
    assert out.shape == (1, 3, 8 * scale, 12 * scale)


@pytest.mark.parametrize("act_type", ["prelu", "leakyrelu"])
def test_srvgg_is_detected_with_its_activation(act_type):
    original = SRVGGNetCompact(num_feat=6, num_conv=3, scale=3, act_type=act_type).eval()
    rebuilt = build_model(original.state_dict())
    assert rebuilt.architecture == "SRVGGNetCompact"
    assert rebuilt.hyperparameters == original.hyperparameters
    x = torch.rand(1, 3, 5, 7)
    with torch.inference_mode():
        assert torch.equal(rebuilt.module(x), original(x))


def test_relu_srvgg_needs_its_activation_named():
    original = SRVGGNetCompact(num_feat=4, num_conv=1, scale=2, act_type="relu").eval()
    rebuilt = build_model(original.state_dict(), hints={"act_type": "relu"})
    x = torch.rand(1, 3, 4, 4) - 0.5
    with torch.inference_mode():
        assert torch.equal(rebuilt.module(x), original(x))


@pytest.mark.parametrize("network", [
    RRDBNet(scale=4, num_block=1, num_feat=8, num_grow_ch=4),
    RRDBNet(scale=2, num_block=1, num_feat=8, num_grow_ch=4),
    SRVGGNetCompact(num_feat=4, num_conv=3, scale=2)], ids=["rrdb4", "rrdb2", "srvgg2"])
def test_the_receptive_radius_is_how_far_an_output_pixel_sees(network):
    """The centre's output depends on a pixel just inside the radius and not on one just
    outside. (The radius decides how much context a tile needs to be exact.) The gradient
    shows every path, however weak: far influences are below float resolution in values.
    Positive weights keep paths from cancelling."""
    network = network.double().eval()
    with torch.no_grad():
        for name, param in network.named_parameters():
            param.fill_(0.0 if name.endswith("bias") else 1.0 / param[0].numel())
    model = describe(network)
    radius, side, s = model.receptive_radius, 96, model.scale
    centre = side // 2
    x = (torch.rand(1, 3, side, side, dtype=torch.float64) + 0.5).requires_grad_()
    network(x)[..., centre * s: (centre + 1) * s, centre * s: (centre + 1) * s].sum().backward()
    reach = x.grad[0, 0, centre]
    assert reach[centre + math.floor(radius) - model.size.multiple_of] != 0
    assert reach[centre + math.ceil(radius) + model.size.multiple_of:].abs().max() == 0


def test_unknown_layout_is_one_clear_line():
    with pytest.raises(UnsupportedModelError, match="unknown network layout") as info:
        build_model({"encoder.weight": torch.zeros(4, 4)}, source="mystery.pth")
    assert "mystery.pth" in str(info.value)
    assert "encoder.weight (4, 4)" in str(info.value)
    assert "\n" not in str(info.value)


def test_truncated_rrdbnet_is_refused_cleanly():
    state = RRDBNet(num_block=1, num_feat=8, num_grow_ch=4).state_dict()
    del state["body.0.rdb2.conv3.weight"]
    with pytest.raises(UnsupportedModelError, match="RRDBNet"):
        build_model(state)
