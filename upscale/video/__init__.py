"""Video: upscale every frame of a clip, keeping its sound, subtitles and timing.

``upscale_video`` is the whole job for a prepared network; ``run_video`` takes
any frame function (tests, other engines). ``media_kind`` is the one rule that
says whether a file goes the image or the video way. Every ffmpeg command line
is built in ``upscale.video.ffmpeg.commands``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..limits import frames_per_batch
from ..outputs import output_scale, output_size
from .encode import EncoderSettings
from .frame_upscaler import frame_upscaler
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


def resume_key(fingerprint: str, scale: float, tile: int) -> dict:
    """What must match for a run to continue another's segments (local or on a cluster)."""
    return {"network": fingerprint, "scale": scale, "tile": tile}


def default_batch_size(device: str) -> int:
    """Frames decoded per network call: the run's own rule (``limits.frames_per_batch``)."""
    return frames_per_batch(device.split(":")[0])


def upscale_video(prepared: PreparedNetwork, source: str | os.PathLike,
                  target: str | os.PathLike, *, scale: float | None = None, tile: int = 0,
                  tile_pad: int | None = None, batch_size: int | None = None,
                  **options) -> Path:
    """Upscale a video file with a prepared network (a folder's videos, Python callers).

    Unfinished work for the same job is continued; ``restart=True`` discards it.
    ``options`` are :func:`run_engine`'s.
    """
    scale = output_scale(scale, prepared.model)
    engine = VideoEngine(frame_upscaler(prepared, scale, tile=tile, tile_pad=tile_pad),
                         batch_size or default_batch_size(str(prepared.device)))
    return run_engine(engine, source, target, scale=scale, tile=tile,
                      fingerprint=weights_fingerprint(prepared.model), **options)


def run_engine(engine: VideoEngine, source: str | os.PathLike, target: str | os.PathLike, *,
               scale: float, tile: int, fingerprint: str,
               settings: EncoderSettings | None = None, **options) -> Path:
    """Every video road's last step (here, a folder's, a cluster's): ``engine`` makes the
    frames at ``scale``; the network's ``fingerprint``, the scale and the tile are the
    resume key, so runs of any kind continue each other's segments. ``options`` are
    :func:`run_video`'s (``restart``, ``overwrite``, ``on_progress``, ``notify``, ...)."""
    return run_video(source, target, engine.upscale_frames,
                     out_size=lambda w, h: output_size(w, h, scale),
                     settings=settings or EncoderSettings(), batch_size=engine.batch_size,
                     job_key=resume_key(fingerprint, scale, tile), encode=engine.encode,
                     **options)
