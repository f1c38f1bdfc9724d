"""The one place where a batch meets the video engine (``upscale.video``).

A folder may mix images and videos. Videos are upscaled whole by the video
engine, which runs its own decode/encode pipeline, with the network the batch
already prepared. When this build has no usable video engine, videos are
skipped with that reason instead of failing the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class VideoSupport:
    """How the batch names and upscales one video file."""

    output_suffix: Callable[[Path], str]
    # (prepared, source, target, *, scale, tile, tile_pad, overwrite, on_progress, notify);
    # on_progress(frames_done, frames_total) and notify(message) report as it goes.
    upscale: Callable[..., Any]


def video_support() -> VideoSupport | None:
    """The video engine's entry points, or None when ``upscale.video`` lacks them."""
    try:
        from .. import video
    except ImportError:
        return None
    upscale = getattr(video, "upscale_video", None)
    if upscale is None or not hasattr(video, "output_suffix"):
        return None
    return VideoSupport(output_suffix=video.output_suffix, upscale=upscale)
