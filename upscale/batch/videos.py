"""The one place where a batch meets the video engine (``upscale.video``).

A folder may mix images and videos; which is which is the video engine's rule
(``upscale.video.media_kind``), the same one a single file follows. Videos are
upscaled whole by the video engine, which runs its own decode/encode pipeline,
with the network the batch already prepared.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .. import video

if TYPE_CHECKING:
    from ..run import PreparedNetwork


class VideoUpscaler(Protocol):
    """``upscale.video.upscale_video``'s shape: ``on_progress(frames_done, frames_total)``
    and ``notify(message)`` report as it goes; returns the output path."""

    def __call__(self, prepared: PreparedNetwork, source: str | os.PathLike,
                 target: str | os.PathLike, *, scale: float | None = None, tile: int = 0,
                 tile_pad: int | None = None, overwrite: bool = False,
                 on_progress: Callable[[int, int], None] | None = None,
                 notify: Callable[[str], None] | None = None) -> Path: ...


@dataclass(frozen=True)
class VideoSupport:
    """How the batch names and upscales one video file."""

    output_suffix: Callable[[Path], str]
    upscale: VideoUpscaler


def video_support() -> VideoSupport:
    """The video engine's entry points."""
    return VideoSupport(output_suffix=video.output_suffix, upscale=video.upscale_video)

