"""PSNR/SSIM on the Y channel, as SR papers compute them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from upscale.eval.metrics import luma, psnr, ssim


def test_identical_images_have_infinite_psnr_and_ssim_one(rng):
    image = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    assert psnr(image, image.copy(), border=4) == math.inf
    assert ssim(image, image.copy(), border=4) == pytest.approx(1.0)


def test_constant_offset_gives_the_exact_psnr():
    # gray is its own luma: an offset of 5 levels is an MSE of 25
    reference = np.full((32, 32), 100, np.uint8)
    assert psnr(reference + 5, reference) == pytest.approx(20 * math.log10(255 / 5), abs=1e-12)
    # RGB floats: Y is linear, so an offset d on every channel moves Y by 219 d (16..235 range)
    colour = np.random.default_rng(2).uniform(0.2, 0.8, (24, 24, 3))
    d = 0.02
    assert psnr(colour + d, colour) == pytest.approx(20 * math.log10(255 / (219 * d)), abs=1e-9)


def test_gaussian_noise_gives_the_psnr_of_its_sigma():
    rng = np.random.default_rng(3)
    reference = np.full((400, 400), 128.0 / 255)
    sigma = 4.0  # levels on the 0-255 scale
    noisy = reference + rng.normal(0, sigma / 255, reference.shape)
    assert psnr(noisy, reference) == pytest.approx(20 * math.log10(255 / sigma), abs=0.05)


def test_the_border_is_shaved_before_measuring(rng):
    reference = rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)
    damaged = reference.copy()
    damaged[:3] = 0
    damaged[:, -3:] = 255
    assert psnr(damaged, reference, border=3) == math.inf
    assert psnr(damaged, reference, border=2) < 20


def test_luma_is_matlab_rgb2ycbcr_rounded_for_uint8():
    # rgb2ycbcr(uint8([255 0 0])) -> Y = round(16 + 65.481) = 81; white -> 235; black -> 16
    pixels = np.array([[[255, 0, 0], [255, 255, 255], [0, 0, 0], [10, 200, 30]]], np.uint8)
    y = luma(pixels)
    assert y[0, :3].tolist() == [81.0, 235.0, 16.0]
    # 16 + (65.481*10 + 128.553*200 + 24.966*30) / 255 = 16 + 27114.39 / 255 = 122.3309 -> 122
    assert y[0, 3] == 122.0
    assert luma(pixels.astype(np.float32) / 255)[0, 3] == pytest.approx(122.33094, abs=1e-4)


def test_ssim_of_flat_images_matches_the_formula():
    # no variance anywhere: SSIM reduces to (2 mu_a mu_b + C1) / (mu_a^2 + mu_b^2 + C1)
    a = np.full((20, 20), 100, np.uint8)
    b = np.full((20, 20), 110, np.uint8)
    c1 = (0.01 * 255) ** 2
    expected = (2 * 100 * 110 + c1) / (100**2 + 110**2 + c1)
    assert ssim(a, b) == pytest.approx(expected, abs=1e-9)


def test_ssim_falls_with_noise_and_psnr_with_it(rng):
    reference = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8).astype(np.float32) / 255
    light = np.clip(reference + rng.normal(0, 0.02, reference.shape), 0, 1)
    heavy = np.clip(reference + rng.normal(0, 0.1, reference.shape), 0, 1)
    assert 1 > ssim(light, reference) > ssim(heavy, reference)
    assert psnr(light, reference) > psnr(heavy, reference)


def test_mismatched_sizes_are_refused():
    with pytest.raises(ValueError, match="cannot compare"):
        psnr(np.zeros((10, 10)), np.zeros((10, 12)))
