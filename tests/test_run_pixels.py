"""Pixels to and from the device: exact for every level, in their own width, never racing.

The meta device stands in for a GPU: copies to it go through the same
``Tensor.to`` calls a copy to CUDA would, without needing one.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from upscale.run.pixels import from_network, to_network

META = torch.device("meta")


@pytest.fixture
def host_to_device(monkeypatch) -> list[tuple[torch.dtype, bool, bool]]:
    """Every copy from the host to another device: (dtype, non_blocking, source pinned)."""
    copies = []
    original = torch.Tensor.to

    def spy(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        if self.device.type == "cpu" and out.device.type != "cpu":
            copies.append((self.dtype, bool(kwargs.get("non_blocking")), self.is_pinned()))
        return out

    monkeypatch.setattr(torch.Tensor, "to", spy)
    return copies


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_no_asynchronous_copy_from_an_unpinned_temporary(host_to_device, dtype):
    to_network(np.zeros((4, 6, 3), dtype), META)
    assert host_to_device, "nothing was copied to the device"
    for _dtype, non_blocking, pinned in host_to_device:
        assert pinned or not non_blocking  # pageable + non_blocking: a race on MPS


@pytest.mark.parametrize(("dtype", "width"), [(np.uint8, 1), (np.uint16, 2), (np.float32, 4)])
def test_pixels_cross_to_the_device_in_their_own_width(host_to_device, dtype, width):
    to_network(np.zeros((4, 6, 3), dtype), META)
    assert [torch.empty((), dtype=d).element_size() for d, _, _ in host_to_device] == [width]


@pytest.mark.parametrize(("dtype", "width"), [(np.uint8, 1), (np.uint16, 2), (np.float32, 4)])
def test_pixels_cross_back_in_their_own_width(monkeypatch, dtype, width):
    sizes = []
    original = torch.Tensor.cpu

    def spy(self, *args, **kwargs):
        sizes.append(self.element_size())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "cpu", spy)
    out = from_network(torch.rand(1, 3, 4, 6), dtype)
    assert out.dtype == dtype and out.shape == (1, 4, 6, 3)
    assert sizes == [width]


def test_every_16_bit_level_survives_the_round_trip():
    levels = np.arange(65536, dtype=np.uint16).reshape(256, 256, 1).repeat(3, axis=2)
    x = to_network(levels, torch.device("cpu"))
    assert x.dtype == torch.float32
    np.testing.assert_array_equal(x[0, 0].numpy() * 65535, levels[..., 0].astype(np.float32))
    np.testing.assert_array_equal(from_network(x, np.uint16)[0], levels)


def test_out_of_range_values_are_clamped_in_every_dtype():
    y = torch.tensor([-0.5, 0.0, 0.5, 1.0, 1.5]).reshape(1, 1, 1, 5).expand(1, 3, 1, 5)
    np.testing.assert_array_equal(from_network(y, np.uint8)[0, 0, :, 0], [0, 0, 128, 255, 255])
    np.testing.assert_array_equal(from_network(y, np.uint16)[0, 0, :, 0],
                                  [0, 0, 32768, 65535, 65535])
    np.testing.assert_array_equal(from_network(y, np.float32)[0, 0, :, 0], [0, 0, 0.5, 1, 1])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_the_output_crosses_back_channel_last_so_a_paste_is_a_plain_copy(dtype):
    """A strided (channel-first) array would make every paste an element-by-element copy:
    294 ms against 5 ms for one 8K frame (bench/RESULTS.md, issue 20)."""
    out = from_network(torch.rand(2, 3, 5, 7), dtype)
    assert out.shape == (2, 5, 7, 3) and out.flags["C_CONTIGUOUS"]


def test_16_bit_output_needs_no_more_than_a_few_bytes_per_element():
    """A masked write of the bright pixels held ~36 bytes per such element (and forced a
    sync on a GPU); what is needed is the fp32 working copy and the int16 result."""
    from helpers import peak_tensor_bytes

    bright = torch.full((1, 3, 64, 64), 0.9)  # every value takes the int16 wrap
    elements = bright.numel()
    peak = peak_tensor_bytes(lambda: from_network(bright, np.uint16))
    assert peak <= 7 * elements
    np.testing.assert_array_equal(from_network(bright, np.uint16), round(0.9 * 65535))
