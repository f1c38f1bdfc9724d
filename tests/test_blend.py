"""Network interpolation: θ = (1−α)·θ_PSNR + α·θ_GAN, checked on tiny networks."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from helpers import tiny_rrdbnet, tiny_srvgg
from torch.nn import functional as F

from upscale.archs import as_model, build_model
from upscale.archs.rrdbnet import RRDBNet
from upscale.errors import UpscaleError
from upscale.loading.interpolation import (
    LINEAGE_THRESHOLD,
    LineageWarning,
    blend_state_dicts,
    cache_key,
    check_alpha,
    relative_distance,
)


def fine_tune(network: torch.nn.Module, steps: int = 10, lr: float = 1e-4) -> torch.nn.Module:
    """A real fine-tune: a copy of ``network`` after a few Adam steps towards another target."""
    tuned = copy.deepcopy(network).train()
    optimiser = torch.optim.Adam(tuned.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(7)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: extra threads only spin on a busy machine
    try:
        for _ in range(steps):
            low = torch.rand(2, 3, 8, 8, generator=generator)
            target = F.interpolate(low, scale_factor=network.scale, mode="bicubic",
                                   align_corners=False)
            loss = F.l1_loss(tuned(low), target)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    finally:
        torch.set_num_threads(threads)
    return tuned.eval()


def output(network: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return as_model(network).module(x)


@pytest.fixture(scope="module")
def pair() -> tuple[torch.nn.Module, torch.nn.Module]:
    psnr = tiny_rrdbnet(seed=0)
    return psnr, fine_tune(psnr)


def blended_network(psnr, gan, alpha: float) -> torch.nn.Module:
    blend = blend_state_dicts(psnr.state_dict(), gan.state_dict(), alpha)
    return build_model(blend.state).module


def test_alpha_zero_and_one_reproduce_each_end_bit_for_bit(pair):
    psnr, gan = pair
    x = torch.rand(1, 3, 10, 12)
    assert torch.equal(output(blended_network(psnr, gan, 0.0), x), output(psnr, x))
    assert torch.equal(output(blended_network(psnr, gan, 1.0), x), output(gan, x))
    assert not torch.equal(output(psnr, x), output(gan, x))


def test_alpha_half_is_exactly_the_parameter_mean(pair):
    psnr, gan = pair
    blend = blend_state_dicts(psnr.state_dict(), gan.state_dict(), 0.5)
    gan_state = gan.state_dict()
    for key, value in psnr.state_dict().items():
        assert torch.equal(blend.state[key], (value + gan_state[key]) / 2), key
        assert blend.state[key].dtype == value.dtype


def test_blend_moves_the_output_between_the_ends(pair):
    psnr, gan = pair
    x = torch.rand(1, 3, 8, 8)
    ends = output(psnr, x), output(gan, x)
    middle = output(blended_network(psnr, gan, 0.8), x)
    assert (middle - ends[1]).abs().mean() < (middle - ends[0]).abs().mean()


def test_blend_lines_up_different_key_layouts_of_one_network(pair):
    """An original-ESRGAN ``model.N`` file blends with its BasicSR-named fine-tune."""
    psnr, gan = pair
    renamed = {}
    for key, value in psnr.state_dict().items():
        key = key.replace("body.0.rdb", "RRDB_trunk.0.RDB").replace("conv_body", "trunk_conv")
        key = key.replace("conv_up", "upconv").replace("conv_hr", "HRconv")
        renamed[key] = value
    blend = blend_state_dicts(renamed, gan.state_dict(), 0.5)
    assert torch.equal(blend.state["conv_body.weight"],
                       (psnr.conv_body.weight + gan.conv_body.weight).detach() / 2)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan")])
def test_alpha_outside_zero_one_is_refused(alpha):
    network = tiny_rrdbnet()
    with pytest.raises(UpscaleError, match=r"--alpha must be between 0 .* and 1"):
        blend_state_dicts(network.state_dict(), network.state_dict(), alpha)


def test_alpha_accepts_the_ends():
    assert check_alpha(0) == 0.0
    assert check_alpha(1) == 1.0


def test_different_widths_fail_naming_the_first_differing_tensor():
    narrow = tiny_rrdbnet()
    wide = RRDBNet(num_block=1, num_feat=12, num_grow_ch=4)
    with pytest.raises(UpscaleError, match="not the same architecture") as info:
        blend_state_dicts(narrow.state_dict(), wide.state_dict(), 0.5)
    message = str(info.value)
    assert "conv_first.weight is (8, 3, 3, 3)" in message
    assert "(12, 3, 3, 3)" in message
    assert "\n" not in message


def test_different_depths_fail_naming_the_missing_block():
    one = tiny_rrdbnet()
    two = RRDBNet(num_block=2, num_feat=8, num_grow_ch=4)
    with pytest.raises(UpscaleError, match=r"body\.1\.rdb1\.conv1\.weight .* is in the GAN"):
        blend_state_dicts(one.state_dict(), two.state_dict(), 0.5)


def test_different_architectures_fail_cleanly():
    with pytest.raises(UpscaleError, match="not the same architecture"):
        blend_state_dicts(tiny_rrdbnet().state_dict(), tiny_srvgg(scale=4).state_dict(), 0.5)


def test_lineage_warning_fires_for_an_unrelated_pair():
    first, stranger = tiny_rrdbnet(seed=0), tiny_rrdbnet(seed=1)
    with pytest.warns(LineageWarning, match=r"are 1\.\d\d apart") as record:
        blend = blend_state_dicts(first.state_dict(), stranger.state_dict(), 0.5)
    assert blend.distance > LINEAGE_THRESHOLD
    assert "do not look related" in str(record[0].message)


def test_lineage_check_is_silent_for_a_fine_tuned_pair(pair):
    psnr, gan = pair
    distance = relative_distance(psnr.state_dict(), gan.state_dict())
    assert 0 < distance < LINEAGE_THRESHOLD
    with warnings.catch_warnings():
        warnings.simplefilter("error", LineageWarning)
        blend = blend_state_dicts(psnr.state_dict(), gan.state_dict(), 0.8)
    assert blend.distance == pytest.approx(distance)


def test_srvgg_pairs_blend_too():
    psnr = tiny_srvgg(scale=2)
    gan = fine_tune(psnr)
    x = torch.rand(1, 3, 6, 6)
    assert torch.equal(output(blended_network(psnr, gan, 1.0), x), output(gan, x))


def test_cache_key_tells_every_input_apart():
    keys = {cache_key("a" * 64, "b" * 64, 0.8), cache_key("b" * 64, "a" * 64, 0.8),
            cache_key("a" * 64, "b" * 64, 0.8000001), cache_key("a" * 64, "c" * 64, 0.8)}
    assert len(keys) == 4
    assert cache_key("a" * 64, "b" * 64, 0.8) == cache_key("a" * 64, "b" * 64, 4 / 5)
