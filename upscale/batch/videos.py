"""How a folder run names and upscales its videos (``upscale.video``'s entry points by default)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class VideoSupport:
    """A video's output suffix, and ``upscale.video.upscale_video`` (or a stand-in)."""

    output_suffix: Callable[[Path], str]
    upscale: Callable[..., Path]
