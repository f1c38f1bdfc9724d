"""The SR papers' evaluation loop: crop HR to a multiple of the scale (so LR and SR sizes
are exact), degrade it (MATLAB bicubic or Real-ESRGAN), upscale, compare with HR."""

from __future__ import annotations

import math
import os
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError
from ..imaging import IMAGE_SUFFIXES, read_image, split_alpha, write_image
from ..pipeline import upscale_image
from ..run import prepare_network
from .degradation import realesrgan_degrade
from .matlab_resize import imresize
from .metrics import psnr, ssim

if TYPE_CHECKING:
    import torch

    from ..model import ModelDescriptor

# (LR image, integer scale) -> SR image of exactly scale x the LR size, same dtype
Upscaler = Callable[[np.ndarray, int], np.ndarray]

# user-facing method name -> MATLAB imresize kernel
CLASSICAL_METHODS = {"bicubic": "cubic", "lanczos": "lanczos3", "nearest": "box"}


@dataclass(frozen=True)
class ImageScore:
    name: str
    width: int  # of the HR image after cropping to a multiple of the scale
    height: int
    psnr: float  # dB; math.inf when output and HR are identical
    ssim: float
    seconds: float  # upscaling only


@dataclass
class EvalReport:
    dataset: str
    method: str
    scale: int
    degradation: str
    seed: int
    scores: list[ImageScore] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def mean_psnr(self) -> float:
        """Mean of per-image PSNRs, as papers average them (inf if any image is identical)."""
        return float(np.mean([s.psnr for s in self.scores])) if self.scores else math.nan

    @property
    def mean_ssim(self) -> float:
        return float(np.mean([s.ssim for s in self.scores])) if self.scores else math.nan


def _match_dtype(result: np.ndarray, like: np.ndarray) -> np.ndarray:
    """imresize returns float64 for float input; hand back float32 in [0, 1] as read."""
    if result.dtype == like.dtype:
        return result
    return np.clip(result, 0.0, 1.0).astype(like.dtype)


def classical_upscaler(method: str) -> Upscaler:
    """MATLAB imresize with the method's kernel ('bicubic' is the literature's baseline)."""
    kernel = CLASSICAL_METHODS[method]

    def upscale(lr: np.ndarray, scale: int) -> np.ndarray:
        return _match_dtype(imresize(lr, scale, kernel=kernel), lr)  # type: ignore[arg-type]

    return upscale


def upscaler_for_network(network: ModelDescriptor | torch.nn.Module, *, device: str = "auto",
                         precision: str = "auto", tile: int = 0) -> Upscaler:
    """The image pipeline, exactly as ``upscale IMAGE`` runs it, with the network prepared once."""
    prepared = prepare_network(network, device=device, precision=precision)

    def upscale(lr: np.ndarray, scale: int) -> np.ndarray:
        return upscale_image(prepared, lr, scale=scale, tile=tile)

    return upscale


def dataset_images(dataset_dir: str | os.PathLike) -> list[Path]:
    """The images directly inside ``dataset_dir``, sorted by name."""
    folder = Path(dataset_dir)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    images = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                    and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise InputError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    return images


def degrade(hr: np.ndarray, scale: int, degradation: str = "bicubic", *, seed: int = 0,
            name: str = "") -> np.ndarray:
    """HR -> LR. Real-ESRGAN's randomness is seeded per image name, so it is order-independent."""
    if degradation == "bicubic":
        return _match_dtype(imresize(hr, 1.0 / scale), hr)
    if degradation == "realesrgan":
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        return realesrgan_degrade(hr, scale, rng)
    raise InputError(f"unknown degradation {degradation!r}; use bicubic or realesrgan")


def _read_hr(path: Path, scale: int) -> np.ndarray:
    """HR without alpha (benchmarks are opaque), cropped to a multiple of ``scale`` ('modcrop')."""
    image, _ = split_alpha(read_image(path))
    height, width = image.shape[:2]
    hr = image[: height - height % scale, : width - width % scale]
    if min(hr.shape[:2]) < 2 * scale + 11:
        raise InputError(f"{path}: {image.shape[1]}x{image.shape[0]} is too small to measure "
                         f"at x{scale} (SSIM needs 11 pixels after shaving {scale} each side)")
    return hr


def comparison_strip(lr: np.ndarray, sr: np.ndarray, hr: np.ndarray, *, crop: int = 160,
                     gap: int = 6) -> np.ndarray:
    """LR (nearest-enlarged) | SR | HR, the same centre crop of each, side by side."""
    scale = hr.shape[0] // lr.shape[0]
    lr_big = np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)
    height, width = hr.shape[:2]
    size_y, size_x = min(crop, height), min(crop, width)
    top, left = (height - size_y) // 2, (width - size_x) // 2
    window = (slice(top, top + size_y), slice(left, left + size_x))
    white = np.iinfo(hr.dtype).max if np.issubdtype(hr.dtype, np.integer) else 1.0
    spacer = np.full((size_y, gap, *hr.shape[2:]), white, dtype=hr.dtype)
    panels = [lr_big[window], spacer, sr[window].astype(hr.dtype), spacer, hr[window]]
    return np.concatenate(panels, axis=1)


def evaluate(images: Sequence[Path], scale: int, upscaler: Upscaler, *, method: str,
             degradation: str = "bicubic", seed: int = 0, save_dir: Path | None = None,
             compare: bool = False, dataset: str = "",
             on_image: Callable[[ImageScore], None] | None = None) -> EvalReport:
    """Score ``upscaler`` on each HR image; ``save_dir`` keeps LR/SR (and comparison strips)."""
    if compare and save_dir is None:
        raise InputError("--compare writes into the --save folder; give --save DIR too")
    started = time.perf_counter()
    report = EvalReport(dataset=dataset, method=method, scale=scale, degradation=degradation,
                        seed=seed)
    for path in images:
        hr = _read_hr(path, scale)
        lr = degrade(hr, scale, degradation, seed=seed, name=path.name)
        upscale_started = time.perf_counter()
        sr = upscaler(lr, scale)
        seconds = time.perf_counter() - upscale_started
        score = ImageScore(name=path.stem, width=hr.shape[1], height=hr.shape[0],
                           psnr=psnr(sr, hr, border=scale), ssim=ssim(sr, hr, border=scale),
                           seconds=seconds)
        report.scores.append(score)
        if save_dir is not None:
            write_image(save_dir / "lr" / f"{path.stem}.png", lr, overwrite=True)
            write_image(save_dir / "sr" / f"{path.stem}.png", sr, overwrite=True)
            if compare:
                write_image(save_dir / "compare" / f"{path.stem}.png",
                            comparison_strip(lr, sr, hr), overwrite=True)
        if on_image is not None:
            on_image(score)
    report.wall_seconds = time.perf_counter() - started
    return report
