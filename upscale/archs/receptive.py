"""How far a network sees, measured on the network itself rather than assumed.

The tiling engine gives each tile as much context as the network's receptive
radius (up to :data:`~upscale.run.engine.DEFAULT_TILE_PAD`, blending beyond it),
so the radius decides whether tiles are seamless. For a plain stack of
convolutions it can be counted; for attention, global pooling or a U-Net it
cannot, so it is measured the way tiling uses it: the centre of a random
image is upscaled whole and then from crops with growing margins, and the
radius is the smallest margin whose crop reproduces the centre to a quarter of
an 8-bit level. A network whose centre still changes with the probe's widest
margin (windowed attention that shifts across the whole image, global
pooling) is "unbounded": its radius is the probe's reach, beyond the tiling
default, so its tiles are blended.

A measurement costs a few forward passes on a 96-pixel probe; it is kept in
the model cache by weights digest, so each network is measured once.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..loading.cache import cache_root
from ..model import SizeRequirements, weights_sha256
from ..outputs import write_bytes_atomically
from ..run.fit import fit_to_network

PROBE_SIDE = 96  # input pixels; its half (less the core) is the widest margin tried
CORE = 8  # the centre whose output is compared, in input pixels
TOLERANCE = 0.25 / 255  # a quarter of an 8-bit level
PROBE_SEED = 23


@dataclass(frozen=True)
class Radius:
    """A measured radius in input pixels; ``bounded`` is False when it reached the probe's edge."""

    pixels: float
    bounded: bool

    def describe(self) -> str:
        if self.bounded:
            return f"{self.pixels:g} px (measured)"
        return f"beyond {self.pixels:g} px (measured; tiles are blended)"


def _run(network: nn.Module, x: torch.Tensor, size: SizeRequirements, scale: int) -> torch.Tensor:
    fitted, height, width = fit_to_network(x, size)
    return network(fitted)[..., : height * scale, : width * scale].clamp(0, 1)


@torch.inference_mode()
def measure(network: nn.Module, size: SizeRequirements, scale: int, channels: int) -> Radius:
    """The smallest context (input pixels) around a tile that reproduces the whole-image result."""
    height, width = size.fit_shape(PROBE_SIDE, PROBE_SIDE)
    generator = torch.Generator().manual_seed(PROBE_SEED)
    image = torch.rand(1, channels, height, width, generator=generator)
    top, left = (height - CORE) // 2, (width - CORE) // 2
    whole = _run(network, image, size, scale)
    centre = whole[..., top * scale:(top + CORE) * scale, left * scale:(left + CORE) * scale]

    def reproduces(margin: int) -> bool:
        crop = image[..., top - margin: top + CORE + margin, left - margin: left + CORE + margin]
        out = _run(network, crop, size, scale)
        inner = slice(margin * scale, (margin + CORE) * scale)
        core = out[..., inner, inner]
        return float((core - centre).abs().max()) <= TOLERANCE

    widest = min(top, left) - 1  # a wider crop would be the whole probe
    if not reproduces(widest):
        return Radius(float(widest + 1), bounded=False)
    low, high = 0, widest  # reproduces(high) holds; find the smallest margin that does
    if reproduces(low):
        return Radius(0.0, bounded=True)
    while high - low > 1:
        middle = (low + high) // 2
        if reproduces(middle):
            high = middle
        else:
            low = middle
    return Radius(float(high), bounded=True)


def _cache_file(digest: str) -> Path:
    return cache_root() / "receptive" / f"{digest[:32]}.json"


def measured_radius(network: nn.Module, size: SizeRequirements, scale: int,
                    channels: int) -> Radius:
    """:func:`measure`, once per set of weights (kept in the model cache)."""
    path = _cache_file(weights_sha256(network.state_dict()))
    try:
        saved = json.loads(path.read_text())
        return Radius(float(saved["pixels"]), bool(saved["bounded"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    radius = measure(network, size, scale, channels)
    record = {"pixels": radius.pixels, "bounded": radius.bounded}
    with contextlib.suppress(OSError):  # an unwritable cache: measured again next time
        write_bytes_atomically(path, json.dumps(record).encode(), overwrite=True)
    return radius
