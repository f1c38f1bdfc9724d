"""Real-ESRGAN's two-stage degradation: reproducible by seed, exact output size."""

from __future__ import annotations

import math

import numpy as np
import pytest

from upscale.eval.degradation import FIRST_STAGE as FIRST
from upscale.eval.degradation import (
    gaussian_family_kernel,
    random_blur_kernel,
    realesrgan_degrade,
    sinc_kernel,
)
from upscale.eval.protocol import degrade


def textured(height: int, width: int, channels: int | None = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = 127 + 60 * np.sin(x / 5.0) * np.cos(y / 7.0)
    shape = (height, width) if channels is None else (height, width, channels)
    noise = rng.normal(0, 20, shape)
    image = (base if channels is None else base[:, :, None]) + noise
    return np.clip(image, 0, 255).astype(np.uint8)


def test_same_seed_same_result_other_seed_other_result():
    hr = textured(96, 80)
    first = realesrgan_degrade(hr, 4, np.random.default_rng(7))
    again = realesrgan_degrade(hr, 4, np.random.default_rng(7))
    other = realesrgan_degrade(hr, 4, np.random.default_rng(8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("height", "width", "scale"), [(96, 80, 4), (64, 72, 2), (60, 33, 3)])
def test_output_is_the_hr_size_divided_by_the_scale(seed, height, width, scale):
    lr = realesrgan_degrade(textured(height, width), scale, np.random.default_rng(seed))
    assert lr.shape == (height // scale, width // scale, 3)
    assert lr.dtype == np.uint8


def test_gray_and_sixteen_bit_images_keep_their_layout():
    gray = realesrgan_degrade(textured(64, 64, None), 4, np.random.default_rng(1))
    assert gray.shape == (16, 16) and gray.dtype == np.uint8
    deep = realesrgan_degrade(textured(64, 64).astype(np.uint16) * 257, 4, np.random.default_rng(1))
    assert deep.shape == (16, 16, 3) and deep.dtype == np.uint16
    assert np.all(deep % 257 == 0)  # quantised to 8 bits by the final JPEG/rounding


def test_it_really_degrades_compared_with_bicubic():
    hr = textured(128, 128)
    clean = degrade(hr, 4, "bicubic").astype(float)
    degraded = [realesrgan_degrade(hr, 4, np.random.default_rng(s)).astype(float) for s in range(4)]
    assert all(np.abs(d - clean).mean() > 1.0 for d in degraded)


def test_eval_seeds_each_image_by_name_not_by_order():
    hr = textured(64, 64)
    a = degrade(hr, 4, "realesrgan", seed=5, name="baby.png")
    b = degrade(hr, 4, "realesrgan", seed=5, name="baby.png")
    c = degrade(hr, 4, "realesrgan", seed=5, name="bird.png")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_blur_kernels_are_normalised_odd_and_symmetric():
    rng = np.random.default_rng(0)
    for _ in range(40):
        kernel = random_blur_kernel(rng, FIRST.blur_sigma_range)
        size = kernel.shape[0]
        assert kernel.shape == (size, size) and size % 2 == 1 and 7 <= size <= 21
        assert kernel.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(kernel, kernel[::-1, ::-1], atol=1e-12)  # conv == correlation


def test_generalised_gaussian_with_beta_one_is_the_gaussian():
    plain = gaussian_family_kernel(15, 2.0, 1.0, 0.6)
    np.testing.assert_allclose(gaussian_family_kernel(15, 2.0, 1.0, 0.6, shape="generalized",
                                                      beta=1.0), plain)
    # isotropic Gaussian: values follow exp(-r^2 / (2 sigma^2)) relative to the centre
    iso = gaussian_family_kernel(11, 1.5, 1.5, 0.0)
    assert iso[5, 8] / iso[5, 5] == pytest.approx(math.exp(-9 / (2 * 1.5**2)))


def test_sinc_kernel_is_a_low_pass_with_ringing():
    kernel = sinc_kernel(21, math.pi / 3)
    assert kernel.sum() == pytest.approx(1.0)
    assert kernel.min() < 0  # the negative lobes are what make the ringing
    assert kernel[10, 10] == kernel.max()
    # with cutoff pi the kernel passes everything up to Nyquist: nearly a single pulse
    assert sinc_kernel(21, math.pi)[10, 10] > 0.7
