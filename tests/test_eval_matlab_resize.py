"""MATLAB imresize (bicubic, antialiased), checked against values worked out by hand.

Hand calculation, the cubic kernel with a = -0.5:
    |t| <= 1:      1.5|t|^3 - 2.5|t|^2 + 1
    1 < |t| <= 2: -0.5|t|^3 + 2.5|t|^2 - 4|t| + 2
so cubic(0.25) = 0.8671875, cubic(0.75) = 0.2265625,
   cubic(1.25) = -0.0703125, cubic(1.75) = -0.0234375.

Output pixel i (1-based) of an axis scaled by s reads input positions around
u = i/s + (1 - 1/s)/2.

Upscaling x2 (no antialiasing): u = i/2 + 0.25. An impulse at input position 6
reaches output i with weight cubic(u - 6):
    i = 8: u = 4.25 -> cubic(1.75)  = -0.0234375
    i = 9: u = 4.75 -> cubic(1.25)  = -0.0703125
    i = 10: u = 5.25 -> cubic(0.75) =  0.2265625
    i = 11: u = 5.75 -> cubic(0.25) =  0.8671875
    and mirrored for i = 12..15. The four weights of each output sum to 1 already.

Shrinking x1/2 (antialiasing): the kernel is stretched to 0.5 * cubic(0.5 x),
width 8; normalising by the row sum (2 * 0.5 * (0.8671875 + 0.2265625 - 0.0703125
- 0.0234375) = 1.0, i.e. the factor 0.5 cancels) leaves cubic(x/2) / 2:
    |x| = 0.5 -> 0.43359375, 1.5 -> 0.11328125, 2.5 -> -0.03515625, 3.5 -> -0.01171875.
u = 2i - 0.5, so an impulse at input position 6 reaches
    i = 2 (u = 3.5, distance 2.5): -0.03515625
    i = 3 (u = 5.5, distance 0.5):  0.43359375
    i = 4 (u = 7.5, distance 1.5):  0.11328125
    i = 5 (u = 9.5, distance 3.5): -0.01171875
    i = 1 and i = 6: 0 (out of reach, and their mirrored taps land on positions 1-3 and 10-12).
In 2-D the kernel is separable: output (r, c) = w[r] * w[c].
"""

from __future__ import annotations

import numpy as np
import pytest

from upscale.eval.matlab_resize import contributions, cubic, imresize
from upscale.imaging._cv2 import cv2

UP_X2 = {8: -0.0234375, 9: -0.0703125, 10: 0.2265625, 11: 0.8671875,
         12: 0.8671875, 13: 0.2265625, 14: -0.0703125, 15: -0.0234375}
DOWN_X2 = [0.0, -0.03515625, 0.43359375, 0.11328125, -0.01171875, 0.0]


def impulse(size: int = 12, at: int = 6) -> np.ndarray:
    image = np.zeros((size, size))
    image[at - 1, at - 1] = 1.0  # 1-based position `at`
    return image


def test_cubic_kernel_values_used_in_the_hand_calculation():
    t = np.array([0.0, 0.25, 0.75, 1.0, 1.25, 1.75, 2.0, 2.5])
    expected = [1.0, 0.8671875, 0.2265625, 0.0, -0.0703125, -0.0234375, 0.0, 0.0]
    np.testing.assert_allclose(cubic(t), expected, atol=1e-15)
    np.testing.assert_allclose(cubic(-t), expected, atol=1e-15)


def test_upscaling_an_impulse_gives_the_cubic_weights():
    out = imresize(impulse(), 2)
    assert out.shape == (24, 24)
    row = out[10]  # output row 11 (1-based): weight 0.8671875 along rows
    for column, weight in UP_X2.items():
        assert row[column - 1] == pytest.approx(0.8671875 * weight, abs=1e-12)
    assert out[10, 15] == pytest.approx(0.0, abs=1e-15)  # column 16 is out of reach
    assert out[7, 8] == pytest.approx(-0.0234375 * -0.0703125, abs=1e-12)


def test_shrinking_an_impulse_gives_the_stretched_antialiasing_weights():
    out = imresize(impulse(), 0.5)
    assert out.shape == (6, 6)
    np.testing.assert_allclose(out, np.outer(DOWN_X2, DOWN_X2), atol=1e-12)
    # energy is conserved: the weights an input pixel spreads sum to the scale
    assert sum(DOWN_X2) == pytest.approx(0.5)


def test_edges_are_mirrored_symmetrically():
    # x[-1] = x[0], x[-2] = x[1]: output 1 of the x1/2 shrink reads positions 3,2,1,1,2,3,4,5
    # with weights -0.01171875, -0.03515625, 0.11328125, 0.43359375, 0.43359375, 0.11328125,
    # -0.03515625, -0.01171875, i.e. 0.546875 x1 + 0.3984375 x2 + 0.1015625 x3
    # - 0.03515625 x4 - 0.01171875 x5.
    ramp = np.tile(np.arange(12, dtype=np.float64) * 10, (12, 1))  # 0, 10, ..., 110 per row
    out = imresize(ramp, 0.5)
    expected = 0.3984375 * 10 + 0.1015625 * 20 - 0.03515625 * 30 - 0.01171875 * 40
    assert out[5, 0] == pytest.approx(expected, abs=1e-12)  # = 4.4921875
    assert out[5, 2] == pytest.approx(45.0, abs=1e-12)  # interior: cubic keeps straight lines


def test_contribution_weights_are_normalised_and_indices_in_range():
    for in_len, out_len, scale in [(12, 6, 0.5), (10, 40, 4), (511, 128, 0.25), (7, 3, 3 / 7)]:
        indices, weights = contributions(in_len, out_len, scale)
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)
        assert indices.min() >= 0 and indices.max() < in_len


def test_uint8_in_uint8_out_rounded_and_saturated():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (20, 16, 3), dtype=np.uint8)
    out = imresize(image, 0.25)
    assert out.dtype == np.uint8 and out.shape == (5, 4, 3)
    exact = imresize(image.astype(np.float64), 0.25)
    np.testing.assert_array_equal(out, np.clip(np.floor(exact + 0.5), 0, 255))
    # a hard edge overshoots when enlarged (negative lobes); uint8 must saturate, not wrap
    edge = np.zeros((8, 8), np.uint8)
    edge[:, 4:] = 255
    big = imresize(edge, 4)
    assert big.min() == 0 and big.max() == 255
    assert (imresize(edge.astype(np.float64), 4).max() > 255)


def test_output_size_rounds_up_and_constant_images_stay_constant():
    image = np.full((7, 9), 0.3)
    out = imresize(image, 1 / 3)
    assert out.shape == (3, 3)
    np.testing.assert_allclose(out, 0.3)
    assert imresize(image, output_shape=(14, 5)).shape == (14, 5)


def test_nearest_upscaling_repeats_pixels():
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(imresize(image, 3, kernel="box"),
                                  np.repeat(np.repeat(image, 3, axis=0), 3, axis=1))


def test_differs_from_opencv_inter_cubic():
    """OpenCV uses a = -0.75 and no antialiasing: not the benchmark's LR images."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    ours = imresize(image, 0.25).astype(int)
    opencv = cv2.resize(image, (16, 16), interpolation=cv2.INTER_CUBIC).astype(int)
    assert np.abs(ours - opencv).mean() > 5
