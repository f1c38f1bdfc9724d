"""The model contract: one frozen description of a loaded network, the only place every
caller reads a network's facts from (each architecture's ``describe`` fills it in)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn


@dataclass(frozen=True)
class SizeRequirements:
    """What input sides a network accepts; inputs are padded to fit and cropped back."""

    multiple_of: int = 1  # e.g. 4 for a pixel-unshuffle by 4
    minimum: int = 1
    square: bool = False  # both sides equal (a few networks with fixed-size attention)

    def fit(self, side: int) -> int:
        """The smallest side at least ``side`` (and ``minimum``) that is a multiple."""
        side = max(side, self.minimum)
        return -(-side // self.multiple_of) * self.multiple_of

    def fit_shape(self, height: int, width: int) -> tuple[int, int]:
        """The smallest height and width the network takes that hold ``height`` × ``width``."""
        height, width = self.fit(height), self.fit(width)
        if self.square:
            height = width = max(height, width)
        return height, width


# An architecture's own advice on tiling (spandrel's ``ModelTiling``): ``discouraged`` when it
# relies on the whole image, ``internal`` when it tiles or resizes the image itself.
Tiling = Literal["supported", "discouraged", "internal"]
TILING_ADVICE: tuple[Tiling, ...] = ("supported", "discouraged", "internal")


@dataclass(frozen=True, eq=False)  # identity: it holds a module
class ModelDescriptor:
    """A network and the facts about it that callers need. ``output_scale`` differs from
    ``scale`` for an export that ends in its own resize (animevideov3's ncnn x2 and x3)."""

    module: nn.Module
    architecture: str
    scale: int
    in_channels: int
    out_channels: int
    size: SizeRequirements
    receptive_radius: float  # in input pixels: how far one output pixel sees
    hyperparameters: Mapping[str, Any]
    supports_half: bool = True
    supports_bfloat16: bool = True
    tiling: Tiling = "supported"
    cpu_only: bool = False  # runs on the CPU whatever the device (an ONNX graph, by OpenVINO)
    output_scale: float = 0.0  # 0: the same as ``scale``
    source: str = ""  # display name: registry name, file name or blend formula
    source_path: Path | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tiling not in TILING_ADVICE:
            raise ValueError(f"tiling must be one of {', '.join(TILING_ADVICE)}, "
                             f"not {self.tiling!r}")
        if not self.output_scale:
            object.__setattr__(self, "output_scale", float(self.scale))
        if not self.source:
            object.__setattr__(self, "source", self.architecture)

    @cached_property
    def weights_sha256(self) -> str:
        """sha256 of the module's tensors: names the function the network computes."""
        return weights_sha256(self.module.state_dict())

    @property
    def name(self) -> str:
        """A short lowercase label for file names (the architecture's)."""
        return self.architecture.lower()


def weights_sha256(state: Mapping[str, torch.Tensor]) -> str:
    """sha256 of a network's tensors (names, dtypes, shapes, bytes): one checkpoint gives one
    digest whatever format or file name it arrives in."""
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
