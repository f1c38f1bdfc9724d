"""One video from source to finished file: probe, plan, encode segments, mux, rename.

The output appears under its final name only when everything succeeded; until
then it is written as a hidden ``.NAME.partial.EXT`` beside it. The work folder
of segments is removed after success and kept after a failure, for ``--resume``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..errors import UpscaleError
from .encode import EncodePlan, EncoderSettings, encoder_pix_fmts
from .mux import check_codec_fits, container_for, mux, plan_streams
from .pipeline import FrameFn, Job, ProgressFn, encode_all, segment_starts
from .probe import VideoInfo, probe
from .segments import DEFAULT_SEGMENT_FRAMES, WorkDir, work_dir_for

Notify = Callable[[str], None]
DEFAULT_SETTINGS = EncoderSettings()


def partial_path(output: Path) -> Path:
    return output.with_name(f".{output.stem}.partial{output.suffix}")


def run_video(source: str | os.PathLike, output: str | os.PathLike, upscale_frames: FrameFn, *,
              out_size: Callable[[int, int], tuple[int, int]],
              settings: EncoderSettings = DEFAULT_SETTINGS, resume: bool = False,
              overwrite: bool = False, batch_size: int = 1,
              segment_frames: int = DEFAULT_SEGMENT_FRAMES, job_key: dict | None = None,
              on_progress: ProgressFn | None = None, notify: Notify | None = None,
              info: VideoInfo | None = None,
              encode: Callable[[Job, int], int] = encode_all) -> Path:
    """Upscale every frame of ``source`` with ``upscale_frames`` and write ``output``.

    ``out_size(width, height)`` is the frame size ``upscale_frames`` returns;
    ``job_key`` identifies the network and scale, so ``--resume`` never mixes
    segments made with another one. ``encode(job, first_segment)`` makes the
    missing segments and returns the frames decoded (``upscale.distributed``
    spreads them over a cluster); by default they are made here.
    """
    source, output = Path(source), Path(output)
    notify = notify or (lambda message: None)
    if output.exists() and not overwrite:
        raise UpscaleError(f"{output}: already exists (use --overwrite to replace it)")
    if container_for(output) is None and not output.suffix:
        raise UpscaleError(f"{output}: give the output a video extension such as .mp4 or .mkv")
    check_codec_fits(settings.codec, output)
    encoder_pix_fmts(settings.codec)  # an unknown --codec fails now, not after a segment
    info = info or probe(source)
    width, height = out_size(info.width, info.height)
    plan = EncodePlan.for_source(info, settings, width, height)
    if (plan.width, plan.height) != (width, height):
        notify(f"{plan.pix_fmt} needs even sizes: padded {width}×{height} to "
               f"{plan.width}×{plan.height} by repeating the last pixel row/column")
    if info.variable_rate:
        notify(f"{source.name} has a variable frame rate; every frame keeps its timestamp")
    streams = plan_streams(info, container_for(output))
    for message in streams.notices:
        notify(message)

    stat = source.stat()
    key = {"source": str(source.resolve()), "size": stat.st_size, "mtime": stat.st_mtime_ns,
           "settings": [settings.codec, settings.crf, settings.preset, plan.pix_fmt],
           "frame_size": [width, height], **(job_key or {})}
    workdir = WorkDir(work_dir_for(output), key, info.frame_count, segment_frames)
    first_segment = workdir.prepare(resume)
    if first_segment:
        notify(f"resuming at frame {workdir.first_frame(first_segment)} "
               f"({first_segment} of {workdir.segment_count} segments already done)")
    if first_segment < workdir.segment_count:
        job = Job(info, upscale_frames, plan, width, height, workdir, max(1, batch_size),
                  on_progress)
        decoded = encode(job, first_segment)
        _check_frame_count(info, decoded)
    concat = workdir.write_concat(segment_starts(info, workdir))
    target = partial_path(output)
    try:
        mux(info, concat, target, streams)
        os.replace(target, output)
    finally:
        target.unlink(missing_ok=True)
    workdir.remove()
    return output


def _check_frame_count(info: VideoInfo, decoded: int) -> None:
    if decoded < info.frame_count:
        raise UpscaleError(f"{info.path}: only {decoded} of {info.frame_count} frames could be "
                           "decoded; the file looks truncated or damaged")
