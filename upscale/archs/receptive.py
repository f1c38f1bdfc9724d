"""How far a network sees, measured on the network rather than assumed: the smallest margin
whose crop reproduces a random image's centre to a quarter of an 8-bit level, as tiles get
that much context. A network still changing at the probe's widest margin is "unbounded", so
its tiles are blended. Each set of weights is measured once (cached by digest)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from dataclasses import dataclass

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
# Multiples that windowed networks pad their input to (their window, or a U-Net's depth).
ALIGNMENTS = (2, 4, 8, 12, 16, 24, 32, 48, 64)
ALIGNMENT_PROBE = (33, 65)  # small sides that every candidate pads to a different shape
EXACT = 1e-5  # "the same output": float32 noise only


@dataclass(frozen=True)
class Radius:
    """A measured radius in input pixels (``bounded``: it stopped short of the probe's edge);
    tiles aligned to ``alignment``, the network's window, see the windows the image does."""

    pixels: float
    bounded: bool
    alignment: int = 1

    def describe(self) -> str:
        aligned = f", windows of {self.alignment} px" if self.alignment > 1 else ""
        if self.bounded:
            return f"{self.pixels:g} px (measured{aligned})"
        return f"beyond {self.pixels:g} px (measured{aligned}; tiles are blended)"


def _run(network: nn.Module, x: torch.Tensor, size: SizeRequirements, scale: int) -> torch.Tensor:
    fitted, height, width = fit_to_network(x, size)
    return network(fitted)[..., : height * scale, : width * scale].clamp(0, 1)


def _random(channels: int, height: int, width: int) -> torch.Tensor:
    return torch.rand(1, channels, height, width,
                      generator=torch.Generator().manual_seed(PROBE_SEED))


@torch.inference_mode()
def alignment(network: nn.Module, size: SizeRequirements, scale: int, channels: int
              ) -> SizeRequirements:
    """``size`` with the multiple the network pads its input to by reflection before its
    windows (padded to it ourselves, the output is unchanged; any other multiple changes the
    border), or ``size`` itself when it pads to none or with zeros (OmniSR: no probe tells)."""
    image = _random(channels, *size.fit_shape(*ALIGNMENT_PROBE))
    plain = _run(network, image, size, scale)
    for multiple in ALIGNMENTS:
        if multiple % size.multiple_of:
            continue
        aligned = dataclasses.replace(size, multiple_of=multiple)
        if float((_run(network, image, aligned, scale) - plain).abs().max()) <= EXACT:
            return aligned
    return size


@torch.inference_mode()
def measure(network: nn.Module, size: SizeRequirements, scale: int, channels: int) -> Radius:
    """The smallest context (input pixels) around a tile that reproduces the whole-image
    result, at the centre of a random image and at its bottom-right corner (where the
    network's own padding to whole windows must match the whole image's)."""
    step = size.multiple_of  # tiles start on multiples of it: margins are multiples too
    core = -(-CORE // step) * step
    height, width = size.fit_shape(PROBE_SIDE, PROBE_SIDE)
    image = _random(channels, height, width)
    whole = _run(network, image, size, scale)
    top = (height - core) // 2 // step * step
    left = (width - core) // 2 // step * step

    def same(out: torch.Tensor, y0: int, x0: int, oy: int, ox: int) -> bool:
        part = out[..., oy * scale:(oy + core) * scale, ox * scale:(ox + core) * scale]
        want = whole[..., y0 * scale:(y0 + core) * scale, x0 * scale:(x0 + core) * scale]
        return float((part - want).abs().max()) <= TOLERANCE

    def reproduces(margin: int) -> bool:
        centre = image[..., top - margin: top + core + margin, left - margin: left + core + margin]
        if not same(_run(network, centre, size, scale), top, left, margin, margin):
            return False
        corner = image[..., height - core - margin:, width - core - margin:]
        return same(_run(network, corner, size, scale), height - core, width - core,
                     margin, margin)

    widest = (min(top, left) - 1) // step  # in steps; a wider crop would be the whole probe
    if widest < 0 or not reproduces(widest * step):
        return Radius(float(max(widest, 0) * step + 1), bounded=False, alignment=step)
    low, high = -1, widest  # reproduces(high * step) holds; find the smallest that does
    while high - low > 1:
        middle = (low + high) // 2
        if reproduces(middle * step):
            high = middle
        else:
            low = middle
    return Radius(float(high * step), bounded=True, alignment=step)


def measured_radius(network: nn.Module, size: SizeRequirements, scale: int,
                    channels: int) -> Radius:
    """:func:`measure` with tiles aligned to :func:`alignment`; cached per set of weights."""
    path = cache_root() / "receptive" / f"{weights_sha256(network.state_dict())[:32]}.json"
    try:
        saved = json.loads(path.read_text())
        return Radius(float(saved["pixels"]), bool(saved["bounded"]), int(saved["alignment"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    radius = measure(network, alignment(network, size, scale, channels), scale, channels)
    with contextlib.suppress(OSError):  # an unwritable cache: measured again next time
        write_bytes_atomically(path, json.dumps(dataclasses.asdict(radius)).encode(),
                               overwrite=True)
    return radius
