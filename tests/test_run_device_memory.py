"""What the memory estimate does with what a GPU reports, fed as CUDA and MPS would report it.

No GPU is needed: ``torch.cuda.mem_get_info`` and the MPS queries are replaced by
the numbers a 24 GiB or 80 GiB card (or an older torch) would give.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from upscale.archs import describe
from upscale.archs.rrdbnet import RRDBNet
from upscale.archs.srvgg import SRVGGNetCompact
from upscale.run import PreparedNetwork, engine
from upscale.run.engine import auto_tile
from upscale.run.frames import batch_size
from upscale.run.memory import memory_budget

GIB = 1 << 30
MAX_ELEMENTS = 2**31 - 1  # 32-bit indexing in CUDA kernels and older cuDNN
CUDA = torch.device("cuda", 0)
PAD = 48


@pytest.fixture(scope="module")
def x4plus_on_cuda() -> PreparedNetwork:
    """RealESRGAN x4plus's shape (random weights) as if prepared for CUDA in fp16; only its
    memory facts are used, and those are probed on the CPU copy."""
    torch.manual_seed(0)
    network = RRDBNet().eval()
    return PreparedNetwork(model=describe(network), device=CUDA, dtype=torch.float16,
                           module=network)


def card_with(monkeypatch, free_bytes: int) -> None:
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free_bytes, free_bytes))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 0)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 0)


def largest_activation(prepared: PreparedNetwork, side: int, height: int, width: int) -> float:
    """Elements of the largest activation of the biggest tile a plan of ``side`` makes."""
    rows, cols = (min(min(side, s) + 2 * PAD, s) + 1 for s in (height, width))
    return prepared.memory_facts().elements_per_pixel * rows * cols


@pytest.mark.parametrize(("free_gib", "height", "width"),
                         [(24, 1500, 1500), (80, 2744, 2744), (80, 1080, 2048)])
def test_an_automatic_cuda_tile_keeps_every_activation_under_2_to_the_31(
        monkeypatch, x4plus_on_cuda, free_gib, height, width):
    card_with(monkeypatch, free_gib * GIB)
    whole = x4plus_on_cuda.memory_facts().elements_per_pixel * height * width
    assert whole > MAX_ELEMENTS  # the premise: the whole image would be one tensor too many
    side = auto_tile(x4plus_on_cuda, height, width, PAD)
    assert largest_activation(x4plus_on_cuda, side, height, width) <= MAX_ELEMENTS
    assert side >= 1024  # capped, not crushed


def test_a_users_tile_is_capped_too(monkeypatch, x4plus_on_cuda):
    card_with(monkeypatch, 80 * GIB)
    side = engine.tile_side(x4plus_on_cuda, 3000, 3000, 3000, PAD)
    assert largest_activation(x4plus_on_cuda, side, 3000, 3000) <= MAX_ELEMENTS


def test_small_images_still_run_whole(monkeypatch, x4plus_on_cuda):
    card_with(monkeypatch, 24 * GIB)
    assert auto_tile(x4plus_on_cuda, 720, 1280, PAD) == 1280


def test_video_frames_over_the_element_cap_are_tiled_not_batched(monkeypatch, x4plus_on_cuda):
    card_with(monkeypatch, 80 * GIB)
    frames = np.zeros((4, 1080, 2048, 3), np.uint8)  # 2K DCI: 2.26e9 elements per frame
    assert batch_size(x4plus_on_cuda, frames) == 0


def test_a_batch_of_frames_stays_under_the_element_cap(monkeypatch):
    card_with(monkeypatch, 80 * GIB)
    torch.manual_seed(0)
    network = SRVGGNetCompact(num_feat=64, num_conv=16, scale=4, act_type="prelu").eval()
    prepared = PreparedNetwork(model=describe(network), device=CUDA, dtype=torch.float16,
                               module=network)
    frames = np.zeros((8, 2160, 3840, 3), np.uint8)  # 4K frames through animevideov3's shape
    per_frame = prepared.memory_facts().elements_per_pixel * 2161 * 3841
    batch = batch_size(prepared, frames)
    assert batch >= 1 and batch * per_frame <= MAX_ELEMENTS


def test_mps_budget_without_recommended_max_memory_on_torch_before_2_5(monkeypatch):
    monkeypatch.delattr(torch.mps, "recommended_max_memory", raising=False)
    monkeypatch.setattr("upscale.run.memory._available_ram", lambda: 16 * GIB)
    assert memory_budget(torch.device("mps")) == 8 * GIB


def test_mps_budget_with_recommended_max_memory(monkeypatch):
    monkeypatch.setattr(torch.mps, "recommended_max_memory", lambda: 20 * GIB, raising=False)
    monkeypatch.setattr(torch.mps, "current_allocated_memory", lambda: 4 * GIB, raising=False)
    assert memory_budget(torch.device("mps")) == 8 * GIB


@pytest.mark.parametrize("network", [
    RRDBNet(num_feat=16, num_block=1, num_grow_ch=8).eval(),
    RRDBNet(scale=2, num_feat=16, num_block=1, num_grow_ch=8).eval(),
    SRVGGNetCompact(num_feat=16, num_conv=2, scale=4).eval(),
], ids=["rrdbnet_x4", "rrdbnet_x2", "srvgg_x4"])
def test_a_forward_pass_fits_in_the_memory_the_tile_estimate_allows(network):
    """The estimate assumes two full-size maps alive at once plus one for the convolution's
    workspace. RRDBNet kept its upsampled map alive through conv_hr and made a new tensor
    per activation: 5 maps at its peak, past the old estimate of 4."""
    from helpers import peak_tensor_bytes

    from upscale.run.memory import probe_network

    model = describe(network)
    side = 48
    x = torch.rand(1, 3, side, side)
    with torch.inference_mode():
        peak = peak_tensor_bytes(lambda: network(x))
    facts = probe_network(model, torch.device("cpu"), torch.float32)
    estimate = facts.bytes_per_pixel(torch.float32, 3, model.scale) * side * side
    largest = facts.elements_per_pixel * side * side * 4
    assert peak <= estimate
    assert peak <= 3.1 * largest  # 2 live maps (a convolution's input and output) + workspace
