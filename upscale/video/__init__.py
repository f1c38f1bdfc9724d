"""Video: upscale every frame of a clip, keeping its sound, subtitles and timing.

``media_kind`` is the one rule that says whether a file goes the image or the video way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..imaging.resize import resize_to
from ..limits import frames_per_batch
from ..outputs import output_scale, output_size
from .encode import EncoderSettings
from .job import VideoEngine, VideoInterrupted, run_video
from .probe import VideoInfo, probe
from .sniff import media_kind

if TYPE_CHECKING:
    from ..model import ModelDescriptor
    from ..run import PreparedNetwork

__all__ = ["EncoderSettings", "VideoEngine", "VideoInfo", "VideoInterrupted", "frame_upscaler",
           "media_kind", "output_suffix", "probe", "run_engine", "run_video", "upscale_video"]

_KEEP_SUFFIXES = {".mp4", ".mkv", ".mov", ".m4v"}


def output_suffix(source: Path, codec: str = "libx264") -> str:
    """The default output container: the source's when it suits the codec, else .mkv/.mp4."""
    suffix = source.suffix.lower()
    if suffix in _KEEP_SUFFIXES or (suffix == ".webm" and codec.startswith(("libvpx", "libaom"))):
        return suffix
    return ".mkv" if suffix == ".webm" else ".mp4"


def weights_fingerprint(model: ModelDescriptor) -> str:
    """The network's part of a video's resume key: segments resume only with the same weights."""
    return model.weights_sha256[:16]


def default_batch_size(device: str) -> int:
    """Frames decoded per network call: the run's own rule (``limits.frames_per_batch``)."""
    return frames_per_batch(device.split(":")[0])


def frame_upscaler(prepared: PreparedNetwork, scale: float, *, tile: int = 0,
                   tile_pad: int | None = None):
    """``frames (N,H,W,3) -> (N,H*s,W*s,3)``, batched through ``run_frames`` when untiled;
    a ``scale`` other than the network's resizes its output, exactly as for images."""
    from ..run import run_frames, run_network

    def upscale_frames(frames: np.ndarray, source_bits: int | None = None) -> np.ndarray:
        """``source_bits``: the video's depth, which decides fp16 or fp32 under ``auto``."""
        height, width = frames.shape[1:3]
        target = output_size(width, height, scale)
        if tile == 0:
            raw = run_frames(prepared, frames, source_bits=source_bits)
        else:
            raw = [run_network(prepared, frame, tile=tile, tile_pad=tile_pad,
                               source_bits=source_bits) for frame in frames]
        return np.stack([resize_to(frame, *target) for frame in raw])

    return upscale_frames


def upscale_video(prepared: PreparedNetwork, source: str | os.PathLike,
                  target: str | os.PathLike, *, scale: float | None = None, tile: int = 0,
                  tile_pad: int | None = None, batch_size: int | None = None,
                  **options) -> Path:
    """Upscale a video file with a prepared network, continuing unfinished work for the same
    job (``restart=True`` discards it); ``options`` are :func:`run_engine`'s."""
    scale = output_scale(scale, prepared.model)
    engine = VideoEngine(frame_upscaler(prepared, scale, tile=tile, tile_pad=tile_pad),
                         batch_size or default_batch_size(str(prepared.device)))
    return run_engine(engine, source, target, scale=scale, tile=tile,
                      fingerprint=weights_fingerprint(prepared.model), **options)


def run_engine(engine: VideoEngine, source: str | os.PathLike, target: str | os.PathLike, *,
               scale: float, tile: int, fingerprint: str, **options) -> Path:
    """Every video road's last step: ``fingerprint``, scale and tile are the resume key, so
    runs of any kind continue each other's segments. ``options`` are :func:`run_video`'s."""
    return run_video(source, target, engine.upscale_frames,
                     out_size=lambda w, h: output_size(w, h, scale), batch_size=engine.batch_size,
                     job_key={"network": fingerprint, "scale": scale, "tile": tile},
                     encode=engine.encode, **options)
