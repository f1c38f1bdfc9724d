"""The one place where a batch meets the video engine (``upscale.video``).

A folder may mix images and videos; which is which is the video engine's rule
(``upscale.video.media_kind``), the same one a single file follows. Videos are
upscaled whole by the video engine, which runs its own decode/encode pipeline,
with the network the batch already prepared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import video


@dataclass(frozen=True)
class VideoSupport:
    """How the batch names and upscales one video file."""

    output_suffix: Callable[[Path], str]
    # (prepared, source, target, *, scale, tile, tile_pad, overwrite, on_progress, notify);
    # on_progress(frames_done, frames_total) and notify(message) report as it goes.
    upscale: Callable[..., Any]


def video_support() -> VideoSupport:
    """The video engine's entry points."""
    return VideoSupport(output_suffix=video.output_suffix, upscale=video.upscale_video)

