"""One video from source to finished file: probe, plan, encode segments, mux, rename.

The output appears only when everything succeeded; the work folder is kept after a failure or
Ctrl-C, for the same command to continue from. One run at a time owns an output.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import Interrupted, UpscaleError
from ..outputs import OutputLock, partial_files, write_atomically
from .encode import EncodePlan, EncoderSettings
from .ffmpeg.binary import encoder_pix_fmts, ffmpeg_choice
from .mux import CONTAINERS, WEBM_VIDEO, container_for, mux, plan_streams
from .probe import probe
from .segments import DEFAULT_SEGMENT_FRAMES, WorkDir, work_dir_for
from .transcode import FrameFn, ProgressFn, TranscodeJob, encode_all

Encode = Callable[[TranscodeJob, int], int]


@dataclass(frozen=True)
class VideoEngine:
    """What makes a video's frames: a frame function here, or (none) actors in ``encode``."""

    upscale_frames: FrameFn | None
    batch_size: int
    encode: Encode = encode_all


class VideoInterrupted(Interrupted):
    """Ctrl-C during a video; ``str()`` is the CLI's line: what was kept, how to continue."""


def run_video(source: str | os.PathLike, output: str | os.PathLike,
              upscale_frames: FrameFn | None, *, out_size: Callable[[int, int], tuple[int, int]],
              settings: EncoderSettings | None = None, restart: bool = False,
              overwrite: bool = False, batch_size: int = 1,
              segment_frames: int = DEFAULT_SEGMENT_FRAMES, job_key: dict | None = None,
              on_progress: ProgressFn | None = None,
              notify: Callable[[str], None] | None = None, encode: Encode = encode_all) -> Path:
    """Upscale every frame of ``source`` to ``out_size(width, height)`` and write ``output``,
    continuing unfinished work of the same job (``job_key``: network and scale) unless
    ``restart``. ``encode(job, first_segment)`` makes the missing segments, here or on a
    cluster, and returns the frames decoded."""
    source, output = Path(source), Path(output)
    notify = notify or (lambda message: None)
    settings = settings or EncoderSettings()
    check_video_output(output, settings)
    if note := ffmpeg_choice()[1]:
        notify(note)
    with OutputLock.for_file(output, overwrite=overwrite):  # refuses an existing output
        info = probe(source)
        if missing := info.missing_seconds:
            raise UpscaleError(f"{source}: the last {missing:.2f} s of its declared "
                               f"{info.duration:.2f} s are missing; the file looks truncated")
        width, height = out_size(info.width, info.height)
        plan = EncodePlan.for_source(info, settings, width, height)
        if (plan.width, plan.height) != (width, height):
            notify(f"{plan.pix_fmt} needs even sizes: padded {width}×{height} to "
                   f"{plan.width}×{plan.height} by repeating the last pixel row/column")
        if info.variable_rate:
            notify(f"{source.name} has a variable frame rate; every frame keeps its timestamp")
        streams = plan_streams(info, container_for(output), plan.colour)
        for message in streams.notices:
            notify(message)

        stat = source.stat()
        key = {"source": str(source.resolve()), "size": stat.st_size, "mtime": stat.st_mtime_ns,
               "settings": [settings.codec, settings.crf, settings.preset, plan.pix_fmt],
               "frame_size": [width, height], **(job_key or {})}
        workdir = WorkDir(work_dir_for(output), key, info.frame_count, segment_frames)
        first_segment = workdir.prepare(restart)
        if first_segment:  # where a continued run picks up, in frames of this clip
            done = workdir.frames_done()
            notify(f"resuming: all {done} frames were already upscaled; writing the file"
                   if first_segment >= workdir.segment_count else
                   f"resuming at frame {done} of {workdir.frame_count} ({first_segment} of "
                   f"{workdir.segment_count} segments already done)")
        try:
            if first_segment < workdir.segment_count:
                job = TranscodeJob(info, upscale_frames, plan, width, height, workdir,
                                   max(1, batch_size), on_progress)
                decoded = encode(job, first_segment)
                if decoded < info.frame_count:
                    raise UpscaleError(f"{info.path}: only {decoded} of {info.frame_count} frames "
                                       "could be decoded; the file looks truncated or damaged")
            concat = workdir.write_concat(info)
            for stale in partial_files(output):  # a killed run's half-written output (ours)
                stale.unlink(missing_ok=True)
            write_atomically(output, lambda target: mux(info, concat, target, streams))
        except KeyboardInterrupt as exc:
            raise VideoInterrupted(
                f"interrupted: kept {workdir.frames_done()} of {info.frame_count} upscaled "
                f"frames of {source.name} in {workdir.path}; run the same command again to "
                "continue (--restart to start over)") from exc
        workdir.remove()
        return output


def check_video_output(output: Path, settings: EncoderSettings) -> None:
    """Before any frame (and, from the CLI, before the network loads): the output is a video
    container that holds the codec, and the encoder exists and takes ``--pix-fmt``."""
    container = container_for(output)
    if container is None:
        known = ", ".join(sorted(CONTAINERS))
        raise UpscaleError(f"{output}: not a video file name; end it with one of {known}")
    if container == "webm" and settings.codec not in WEBM_VIDEO:
        raise UpscaleError(f"{output}: WebM holds only VP8/VP9/AV1 video; use --codec "
                           "libvpx-vp9, or an .mp4/.mkv output")
    supported = encoder_pix_fmts(settings.codec)  # an unknown --codec fails here
    if settings.pix_fmt and supported and settings.pix_fmt not in supported:
        raise UpscaleError(f"--pix-fmt {settings.pix_fmt}: {settings.codec} takes "
                           f"{', '.join(supported)}")
