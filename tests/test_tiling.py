"""Tiled upscaling gives the whole-image result, for any size, tile and pixel type."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
import torch
from helpers import nearest_upsampler, tiny_rrdbnet, tiny_srvgg
from torch import nn
from torch.nn import functional as F

from upscale.errors import InputError, UpscaleError
from upscale.run import default_tile_pad, prepare_network, run_network
from upscale.run import engine as engine_module
from upscale.run.tiles import Region, plan_tiles, tile_weights


class StrictNearest(nn.Module):
    """Exact nearest upsampling that, like pixel-unshuffle networks, refuses sides that are not
    multiples of ``size_multiple``: any visible padding would show in its output."""

    arch_name = "StrictNearest"
    in_channels = out_channels = 3

    def __init__(self, scale: int = 2, size_multiple: int = 4) -> None:
        super().__init__()
        self.scale, self.size_multiple = scale, size_multiple
        self.hyperparameters = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.size_multiple or x.shape[-2] % self.size_multiple:
            raise ValueError(f"sides must be multiples of {self.size_multiple}: {x.shape}")
        x = F.pixel_shuffle(F.pixel_unshuffle(x, self.size_multiple), self.size_multiple)
        return F.interpolate(x, scale_factor=self.scale, mode="nearest")


def prepared(network: nn.Module):
    return prepare_network(network, device="cpu", precision="fp32")


def random_image(rng, height, width, dtype=np.uint8, channels=3):
    if dtype == np.float32:
        return rng.random((height, width, channels), dtype=np.float32)
    return rng.integers(0, np.iinfo(dtype).max + 1, (height, width, channels)).astype(dtype)


def nearest(image: np.ndarray, scale: int) -> np.ndarray:
    return image.repeat(scale, axis=0).repeat(scale, axis=1)


@pytest.mark.parametrize("network,tile", [
    (tiny_srvgg(2), 5), (tiny_srvgg(2), 13), (tiny_rrdbnet(4), 14), (tiny_rrdbnet(2), 11),
    (tiny_rrdbnet(1), 9)], ids=["srvgg2-5", "srvgg2-13", "rrdb4-14", "rrdb2-11", "rrdb1-9"])
def test_tiles_equal_whole_image_when_context_covers_receptive_field(rng, network, tile):
    net = prepared(network)
    image = random_image(rng, 27, 23)
    whole = run_network(net, image, tile=10_000)
    reach = math.ceil(engine_module.network_facts(net).receptive_radius)
    tiled = run_network(net, image, tile=tile, tile_pad=reach)
    assert np.abs(tiled.astype(int) - whole).max() <= 1  # float rounding at .5 only


def test_float_tiles_equal_whole_image_to_float_precision(rng):
    net = prepared(tiny_rrdbnet(2))
    image = random_image(rng, 24, 21, np.float32)
    whole = run_network(net, image, tile=10_000)
    tiled = run_network(net, image, tile=12, tile_pad=20)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_default_context_is_exact_for_small_receptive_fields(rng):
    net = prepared(tiny_srvgg(4))
    assert default_tile_pad(net) == 3  # three 3×3 convolutions see three pixels
    image = random_image(rng, 40, 50)
    assert np.abs(run_network(net, image, tile=16).astype(int) - run_network(net, image)).max() <= 1


def test_default_context_is_capped_for_deep_networks():
    net = prepared(tiny_rrdbnet(4))
    assert 17 <= default_tile_pad(net) <= engine_module.DEFAULT_TILE_PAD


@pytest.mark.parametrize("height,width", [(1, 1), (3, 5), (5, 3), (1, 9), (7, 2), (4000, 8),
                                          (8, 4000)])
def test_odd_tiny_and_very_wide_inputs(rng, height, width):
    image = random_image(rng, height, width)
    out = run_network(prepared(nearest_upsampler(2)), image, tile=64)
    np.testing.assert_array_equal(out, nearest(image, 2))


@pytest.mark.parametrize("height,width", [(1, 1), (3, 5), (6, 7), (13, 2)])
@pytest.mark.parametrize("tile", [0, 4, 5])
def test_sizes_the_network_cannot_take_are_padded_invisibly(rng, height, width, tile):
    image = random_image(rng, height, width)
    out = run_network(prepared(StrictNearest(scale=2, size_multiple=4)), image, tile=tile,
                      tile_pad=2)
    np.testing.assert_array_equal(out, nearest(image, 2))


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (1, 30)])
def test_pixel_unshuffle_networks_take_odd_sizes(rng, shape):
    net = prepared(tiny_rrdbnet(1))  # input sides must be multiples of 4
    image = random_image(rng, *shape)
    out = run_network(net, image)
    assert out.shape == (*shape, 3)
    tiled = run_network(net, image, tile=8, tile_pad=20)
    assert np.abs(tiled.astype(int) - out).max() <= 1


@pytest.mark.parametrize("tile", [1, 2, 9, 10, 11, 10_000])
def test_tile_sizes_at_and_around_the_image_size(rng, tile):
    image = random_image(rng, 10, 7)
    out = run_network(prepared(nearest_upsampler(2)), image, tile=tile, tile_pad=0)
    np.testing.assert_array_equal(out, nearest(image, 2))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_pixel_type_is_kept(rng, dtype):
    image = random_image(rng, 9, 11, dtype)
    out = run_network(prepared(nearest_upsampler(2)), image, tile=4)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, nearest(image, 2))  # uint16 keeps all 16 bits


def test_results_are_clamped_to_the_valid_range(rng):
    net = nearest_upsampler(2)
    with torch.no_grad():
        net.body[-1].bias.fill_(5.0)  # pushes every output far above white
    image = random_image(rng, 4, 4, np.float32)
    assert run_network(prepared(net), image).max() == 1.0
    assert run_network(prepared(net), (image * 255).astype(np.uint8)).min() == 255


def test_output_is_written_without_a_full_size_float_copy(rng):
    image = random_image(rng, 200, 200)
    net = prepared(nearest_upsampler(4))
    output_bytes = 800 * 800 * 3
    tracemalloc.start()
    try:
        out = run_network(net, image, tile=64)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(out, nearest(image, 4))
    assert peak < 1.5 * output_bytes  # a float32 copy alone would be 4×


def test_automatic_tile_follows_the_memory_budget(rng, monkeypatch):
    net = prepared(tiny_srvgg(2))
    image = random_image(rng, 70, 90)
    whole = run_network(net, image)
    seen = []
    per_pixel = engine_module.bytes_per_pixel(net)
    monkeypatch.setattr(engine_module, "memory_budget", lambda device: int(60 * 60 * per_pixel))
    tiled = run_network(net, image, progress=lambda done, total: seen.append((done, total)))
    assert np.abs(tiled.astype(int) - whole).max() <= 1
    assert len(seen) > 1 and seen[-1][0] == seen[-1][1]


def test_too_little_memory_fails_with_a_clear_message(rng, monkeypatch):
    net = prepared(tiny_srvgg(2))
    monkeypatch.setattr(engine_module, "memory_budget", lambda device: 1000)
    with pytest.raises(UpscaleError, match="not enough memory"):
        run_network(net, random_image(rng, 200, 200))


def test_progress_callback_counts_every_tile(rng):
    calls = []
    run_network(prepared(nearest_upsampler(2)), random_image(rng, 20, 30), tile=10,
                progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 6) for i in range(1, 7)]


def test_progress_bar_does_not_change_the_result(rng):
    image = random_image(rng, 20, 30)
    net = prepared(nearest_upsampler(2))
    np.testing.assert_array_equal(run_network(net, image, tile=10, progress=True),
                                  nearest(image, 2))


@pytest.mark.parametrize("bad", [
    np.zeros((4, 4, 3), np.int16), np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4), np.uint8),
    np.zeros((0, 4, 3), np.uint8)])
def test_unusable_arrays_are_refused(bad):
    with pytest.raises(InputError):
        run_network(prepared(nearest_upsampler(2)), bad)


@pytest.mark.parametrize("options", [{"tile": -1}, {"tile_pad": -3}])
def test_negative_tile_options_are_refused(rng, options):
    with pytest.raises(UpscaleError, match="tile"):
        run_network(prepared(nearest_upsampler(2)), random_image(rng, 4, 4), **options)


def _weight_sum(tiles, height, width, scale=2) -> np.ndarray:
    total = np.zeros((height * scale, width * scale))
    for tile in tiles:
        kept = tile.kept
        total[kept.y0 * scale: kept.y1 * scale, kept.x0 * scale: kept.x1 * scale] += \
            tile_weights(tile, scale)
    return total


@pytest.mark.parametrize("height,width,size,band", [
    (100, 70, 32, 16), (100, 70, 33, 16), (41, 97, 20, 8), (64, 64, 64, 16), (9, 50, 5, 4)])
def test_blend_weights_add_up_to_one_everywhere(height, width, size, band):
    tiles = plan_tiles(Region(0, height, 0, width), size, 24, height, width, band=band)
    assert any(t.kept != t.core for t in tiles) or len(tiles) == 1
    np.testing.assert_allclose(_weight_sum(tiles, height, width), 1.0, atol=1e-6)


def test_replanning_a_tile_keeps_its_neighbours_blends_whole():
    """Out of memory, one tile is split again; its outer bands are kept, so the weights
    of its pieces and of the tiles around it still add up to one."""
    height, width, pad = 96, 96, 24
    tiles = plan_tiles(Region(0, height, 0, width), 32, pad, height, width, band=12)
    middle = tiles[4]
    pieces = plan_tiles(middle.core, 16, pad, height, width, band=12, outer=middle.bands)
    assert len(pieces) == 4
    np.testing.assert_allclose(_weight_sum(tiles[:4] + pieces + tiles[5:], height, width), 1.0,
                               atol=1e-6)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_blended_tiles_that_agree_leave_no_seam(rng, dtype):
    """With a context shorter than the network's reach the tiles are blended; where they
    compute the same values (this network ignores context) the result is the plain one."""
    net = prepared(nearest_upsampler(2))  # reach 3 px: a 2 px context is blended
    assert engine_module.blend_band(net, 2) == 1
    image = random_image(rng, 30, 41, dtype)
    out = run_network(net, image, tile=8, tile_pad=2)
    assert out.dtype == dtype
    tolerance = 1e-6 if dtype == np.float32 else 1  # one rounding of a blended partial sum
    np.testing.assert_allclose(out.astype(np.float64), nearest(image, 2), atol=tolerance)


class TileMean(nn.Module):
    """Each output pixel is the mean of the whole input it is given: tiles of a gradient
    disagree by a step at every seam. A zero convolution declares a 50 px reach."""

    arch_name = "TileMean"
    in_channels = out_channels = 3
    size_multiple, scale = 1, 2

    def __init__(self) -> None:
        super().__init__()
        self.hyperparameters = {}
        self.reach = nn.Conv2d(3, 3, 3, padding=50, dilation=50)
        nn.init.zeros_(self.reach.weight)
        nn.init.zeros_(self.reach.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.mean(dim=(2, 3), keepdim=True).expand_as(x) + self.reach(x)
        return F.interpolate(y, scale_factor=2, mode="nearest")


def test_blending_turns_a_seam_step_into_a_ramp(monkeypatch):
    net = prepared(TileMean())
    gradient = np.repeat(np.linspace(0, 1, 64, dtype=np.float32)[None, :, None], 16, axis=0)
    image = np.ascontiguousarray(np.repeat(gradient, 3, axis=2))
    blended = run_network(net, image, tile=16, tile_pad=8)
    monkeypatch.setattr(engine_module, "BLEND_FRACTION", 0.0)
    hard = run_network(net, image, tile=16, tile_pad=8)
    largest_jump = {name: np.abs(np.diff(out, axis=1)).max()
                    for name, out in (("blended", blended), ("hard", hard))}
    assert largest_jump["hard"] > 0.1  # the step a hard seam leaves
    assert largest_jump["blended"] < largest_jump["hard"] / 4
