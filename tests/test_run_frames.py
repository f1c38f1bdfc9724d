"""A batch of video frames upscales exactly as the frames would one by one."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import tiny_srvgg

from upscale.errors import UpscaleError
from upscale.run import prepare_network, run_frames, run_network


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_frames_match_single_images(rng, dtype):
    prepared = prepare_network(tiny_srvgg(2), "cpu", "fp32")
    if dtype == np.float32:
        frames = rng.random((3, 9, 13, 3), dtype=np.float32)
    else:
        frames = rng.integers(0, np.iinfo(dtype).max + 1, (3, 9, 13, 3)).astype(dtype)
    out = run_frames(prepared, frames)
    assert out.shape == (3, 18, 26, 3) and out.dtype == dtype
    for frame, result in zip(frames, out, strict=True):
        np.testing.assert_array_equal(result, run_network(prepared, frame))


def test_frames_can_be_tiled(rng):
    prepared = prepare_network(tiny_srvgg(2), "cpu", "fp32")
    frames = rng.integers(0, 256, (2, 20, 24, 3)).astype(np.uint8)
    np.testing.assert_array_equal(run_frames(prepared, frames, tile=8),
                                  run_frames(prepared, frames))


def test_a_single_image_is_not_a_batch(rng):
    prepared = prepare_network(tiny_srvgg(2), "cpu", "fp32")
    with pytest.raises(UpscaleError, match="N×H×W×C"):
        run_frames(prepared, rng.integers(0, 256, (9, 13, 3)).astype(np.uint8))
