"""Real-ESRGAN's high-order degradation: realistic low-resolution inputs, reproducible by seed.

Bicubic LR images are too clean to judge models meant for real photos. Real-ESRGAN
(Wang et al. 2021) degrades twice: blur -> random resize -> noise -> JPEG, then blur
(sometimes) -> resize -> noise -> [shrink to 1/scale + sinc, JPEG] in random order, with
its x4plus configuration's odds and ranges. Every draw comes from the one generator given.
JPEG is OpenCV's (Real-ESRGAN's was differentiable): alike in kind, not bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..imaging._cv2 import cv2
from ..imaging.write import encode_image

KERNEL_KINDS = ("iso", "aniso", "generalized_iso", "generalized_aniso",
                "plateau_iso", "plateau_aniso")
_RESIZE_MODES = (cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC)
_KERNEL_SIZES = tuple(range(7, 22, 2))  # odd sizes 7..21
# the same in both stages: the odds of each kind, the betas' ranges, the odds of a sinc
KIND_PROBABILITIES = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
BETA_RANGES = {"generalized": (0.5, 4.0), "plateau": (1.0, 2.0)}
BLUR_SINC_PROBABILITY = 0.1


@dataclass(frozen=True)
class StageSettings:
    """One degradation stage: blur, resize, noise, JPEG."""

    blur_sigma_range: tuple[float, float]
    blur_probability: float
    resize_probabilities: tuple[float, float, float]  # up, down, keep
    resize_range: tuple[float, float]
    gaussian_noise_probability: float  # otherwise Poisson
    gaussian_sigma_range: tuple[float, float]  # on the 0-255 scale
    poisson_scale_range: tuple[float, float]
    gray_noise_probability: float
    jpeg_quality_range: tuple[int, int]


FIRST_STAGE = StageSettings(
    blur_sigma_range=(0.2, 3.0), blur_probability=1.0,
    resize_probabilities=(0.2, 0.7, 0.1), resize_range=(0.15, 1.5),
    gaussian_noise_probability=0.5, gaussian_sigma_range=(1.0, 30.0),
    poisson_scale_range=(0.05, 3.0), gray_noise_probability=0.4, jpeg_quality_range=(30, 95))
SECOND_STAGE = StageSettings(
    blur_sigma_range=(0.2, 1.5), blur_probability=0.8,
    resize_probabilities=(0.3, 0.4, 0.3), resize_range=(0.3, 1.2),
    gaussian_noise_probability=0.5, gaussian_sigma_range=(1.0, 25.0),
    poisson_scale_range=(0.05, 2.5), gray_noise_probability=0.4, jpeg_quality_range=(30, 95))
FINAL_SINC_PROBABILITY = 0.8


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    axis = np.arange(size, dtype=np.float64) - size // 2
    return np.meshgrid(axis, axis, indexing="xy")


def gaussian_family_kernel(size: int, sigma_x: float, sigma_y: float, theta: float, *,
                           shape: str = "gaussian", beta: float = 1.0) -> np.ndarray:
    """Normalised blur kernel, q the squared Mahalanobis distance: 'gaussian' exp(-q/2),
    'generalized' exp(-q^beta/2) (beta > 1 flattens the top), 'plateau' 1/(1 + q^beta)."""
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    inverse = np.linalg.inv(rotation @ np.diag([sigma_x**2, sigma_y**2]) @ rotation.T)
    x, y = _grid(size)
    q = inverse[0, 0] * x * x + (inverse[0, 1] + inverse[1, 0]) * x * y + inverse[1, 1] * y * y
    if shape == "gaussian":
        kernel = np.exp(-0.5 * q)
    elif shape == "generalized":
        kernel = np.exp(-0.5 * q**beta)
    elif shape == "plateau":
        kernel = 1.0 / (1.0 + q**beta)
    else:
        raise ValueError(f"unknown kernel shape {shape!r}")
    return kernel / kernel.sum()


def sinc_kernel(size: int, cutoff: float) -> np.ndarray:
    """Circular low-pass ("jinc"), ``cutoff`` in radians/pixel: the ringing resampling leaves."""
    x, y = _grid(size)
    radius = np.hypot(x, y)
    safe = np.where(radius == 0, 1.0, radius)
    # J1 by Bessel's integral (1/pi) int_0^pi cos(t - z sin t) dt: smooth and periodic, so
    # 512 midpoints are exact to float64 for the arguments a 21-pixel kernel needs
    t = (np.arange(512) + 0.5) * (math.pi / 512)
    j1 = np.cos(t - (cutoff * safe)[..., None] * np.sin(t)).mean(axis=-1)
    kernel = cutoff * j1 / (2 * math.pi * safe)
    kernel[radius == 0] = cutoff**2 / (4 * math.pi)
    return kernel / kernel.sum()


def _beta(rng: np.random.Generator, beta_range: tuple[float, float]) -> float:
    """Half the draws below 1 (heavier tails), half above (flatter tops), as Real-ESRGAN does."""
    low, high = beta_range
    return rng.uniform(low, 1.0) if rng.uniform() < 0.5 else rng.uniform(1.0, high)


def random_blur_kernel(rng: np.random.Generator,
                       sigma_range: tuple[float, float]) -> np.ndarray:
    size = int(rng.choice(_KERNEL_SIZES))
    if rng.uniform() < BLUR_SINC_PROBABILITY:
        low = math.pi / 3 if size < 13 else math.pi / 5
        return sinc_kernel(size, rng.uniform(low, math.pi))
    kind = KERNEL_KINDS[rng.choice(len(KERNEL_KINDS), p=KIND_PROBABILITIES)]
    sigma_x = rng.uniform(*sigma_range)
    if kind.endswith("_iso"):
        sigma_y, theta = sigma_x, 0.0
    else:
        sigma_y, theta = rng.uniform(*sigma_range), rng.uniform(-math.pi, math.pi)
    shape = kind.rpartition("_")[0]  # "" for the plain Gaussians
    if not shape:
        return gaussian_family_kernel(size, sigma_x, sigma_y, theta)
    return gaussian_family_kernel(size, sigma_x, sigma_y, theta, shape=shape,
                                  beta=_beta(rng, BETA_RANGES[shape]))


def _filter(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    # all kernels here are point-symmetric, so OpenCV's correlation is a convolution
    out = cv2.filter2D(image, -1, kernel.astype(np.float32), borderType=cv2.BORDER_REFLECT_101)
    return out.reshape(image.shape)


def _resize(image: np.ndarray, width: int, height: int, mode: int) -> np.ndarray:
    out = cv2.resize(image, (max(1, width), max(1, height)), interpolation=mode)
    return out.reshape(out.shape[0], out.shape[1], image.shape[2])


def _random_resize_factor(rng: np.random.Generator, stage: StageSettings) -> float:
    direction = rng.choice(3, p=stage.resize_probabilities)
    if direction == 0:
        return rng.uniform(1.0, stage.resize_range[1])
    if direction == 1:
        return rng.uniform(stage.resize_range[0], 1.0)
    return 1.0


def _random_mode(rng: np.random.Generator) -> int:
    return _RESIZE_MODES[rng.integers(len(_RESIZE_MODES))]


def _to_gray(image: np.ndarray) -> np.ndarray:
    if image.shape[2] == 1:
        return image
    return (image[:, :, :3] @ np.array([0.299, 0.587, 0.114], np.float32))[:, :, None]


def _add_noise(image: np.ndarray, rng: np.random.Generator, stage: StageSettings) -> np.ndarray:
    gray = rng.uniform() < stage.gray_noise_probability
    if rng.uniform() < stage.gaussian_noise_probability:
        sigma = rng.uniform(*stage.gaussian_sigma_range) / 255.0
        shape = (*image.shape[:2], 1) if gray else image.shape
        noise = rng.standard_normal(shape).astype(np.float32) * sigma
    else:
        # Poisson (shot) noise; the photon count per level follows the number of distinct levels
        strength = rng.uniform(*stage.poisson_scale_range)
        source = np.clip(_to_gray(image) if gray else image, 0.0, 1.0)
        levels = 2.0 ** math.ceil(math.log2(max(2, np.unique(source).size)))
        noise = (rng.poisson(source * levels) / levels - source).astype(np.float32) * strength
    return np.clip(image + noise, 0.0, 1.0)


def _jpeg(image: np.ndarray, rng: np.random.Generator,
          quality_range: tuple[int, int]) -> np.ndarray:
    quality = int(rng.integers(quality_range[0], quality_range[1] + 1))
    pixels = np.clip(np.floor(image * 255.0 + 0.5), 0, 255).astype(np.uint8)
    encoded = encode_image(pixels if pixels.shape[2] == 3 else pixels[:, :, 0], ".jpg",
                           quality=quality)
    decoded = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded.ndim == 3:
        decoded = decoded[:, :, ::-1]
    return decoded.reshape(image.shape).astype(np.float32) / 255.0


def realesrgan_degrade(image: np.ndarray, scale: int, rng: np.random.Generator) -> np.ndarray:
    """HR (HxW or HxWxC, no alpha; uint8, uint16 or float in [0, 1]) to (H // scale,
    W // scale), same layout and dtype, quantised to 8 bits as the last JPEG leaves it."""
    squeeze = image.ndim == 2
    integer = np.issubdtype(image.dtype, np.integer)
    peak = float(np.iinfo(image.dtype).max) if integer else 1.0
    out = (image.astype(np.float32) / peak).reshape(image.shape[0], image.shape[1], -1)
    height, width = out.shape[:2]
    target_w, target_h = max(1, width // scale), max(1, height // scale)

    # stage 1: blur -> resize -> noise -> JPEG
    out = _filter(out, random_blur_kernel(rng, FIRST_STAGE.blur_sigma_range))
    factor = _random_resize_factor(rng, FIRST_STAGE)
    out = _resize(out, round(out.shape[1] * factor), round(out.shape[0] * factor),
                  _random_mode(rng))
    out = _add_noise(out, rng, FIRST_STAGE)
    out = _jpeg(out, rng, FIRST_STAGE.jpeg_quality_range)

    # stage 2: blur (sometimes) -> resize -> noise -> {shrink to target + sinc, JPEG}, either order
    if rng.uniform() < SECOND_STAGE.blur_probability:
        out = _filter(out, random_blur_kernel(rng, SECOND_STAGE.blur_sigma_range))
    factor = _random_resize_factor(rng, SECOND_STAGE)
    out = _resize(out, int(target_w * factor), int(target_h * factor), _random_mode(rng))
    out = _add_noise(out, rng, SECOND_STAGE)
    sinc = None
    if rng.uniform() < FINAL_SINC_PROBABILITY:
        sinc = sinc_kernel(int(rng.choice(_KERNEL_SIZES)), rng.uniform(math.pi / 3, math.pi))

    def shrink_and_ring(x: np.ndarray) -> np.ndarray:
        x = _resize(x, target_w, target_h, _random_mode(rng))
        return x if sinc is None else _filter(x, sinc)

    if rng.uniform() < 0.5:
        out = _jpeg(shrink_and_ring(out), rng, SECOND_STAGE.jpeg_quality_range)
    else:
        out = shrink_and_ring(_jpeg(out, rng, SECOND_STAGE.jpeg_quality_range))

    out = np.clip(np.floor(out * 255.0 + 0.5), 0, 255) / 255.0
    if squeeze:
        out = out[:, :, 0]
    if integer:
        return np.floor(out * peak + 0.5).astype(image.dtype)
    return out.astype(image.dtype)
