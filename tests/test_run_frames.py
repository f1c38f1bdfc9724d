"""A batch of video frames upscales as the frames would one by one.

"As" means to float rounding: the CPU path's batched matrix multiplies (MKL) may
sum in another order for another batch or tile size, or another memory alignment,
so an integer output may differ by one level where a value sits at .5, and a
float output by ~1e-6. Nothing larger is allowed.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import tiny_srvgg

from upscale.errors import UpscaleError
from upscale.run import prepare_network, run_frames, run_network


def same_to_rounding(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape and got.dtype == expected.dtype
    if got.dtype == np.float32:
        np.testing.assert_allclose(got, expected, atol=1e-5)
    else:
        assert np.abs(got.astype(np.int64) - expected).max() <= 1


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
        same_to_rounding(result, run_network(prepared, frame))


def test_frames_can_be_tiled(rng):
    prepared = prepare_network(tiny_srvgg(2), "cpu", "fp32")
    frames = rng.integers(0, 256, (2, 20, 24, 3)).astype(np.uint8)
    same_to_rounding(run_frames(prepared, frames, tile=8), run_frames(prepared, frames))


def test_a_single_image_is_not_a_batch(rng):
    prepared = prepare_network(tiny_srvgg(2), "cpu", "fp32")
    with pytest.raises(UpscaleError, match="N×H×W×C"):
        run_frames(prepared, rng.integers(0, 256, (9, 13, 3)).astype(np.uint8))
