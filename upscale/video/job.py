"""One video from source to finished file: probe, plan, encode segments, mux, rename.

The output appears under its final name only when everything succeeded; until
then it is written under a hidden temporary name beside it (``write_atomically``).
The work folder of segments is removed after success and kept after a failure or
Ctrl-C: the same command run again continues from it. One run at a time owns an output.
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
from .mux import CONTAINERS, check_codec_fits, container_for, mux, plan_streams
from .probe import VideoInfo, probe
from .segments import DEFAULT_SEGMENT_FRAMES, WorkDir, work_dir_for
from .transcode import FrameFn, ProgressFn, TranscodeJob, encode_all, segment_starts

Notify = Callable[[str], None]
Encode = Callable[[TranscodeJob, int], int]
DEFAULT_SETTINGS = EncoderSettings()


@dataclass(frozen=True)
class VideoEngine:
    """What makes a video's frames: here (a frame function, segments encoded by
    :func:`encode_all`) or on a cluster (its ``encode`` has actors make the segments)."""

    upscale_frames: FrameFn
    batch_size: int
    encode: Encode = encode_all


class VideoInterrupted(Interrupted):
    """Ctrl-C during a video; ``str()`` is the CLI's line: what was kept, how to continue."""

    def __init__(self, source: Path, workdir: Path, frames_done: int, frame_count: int) -> None:
        self.source, self.workdir = source, workdir
        self.frames_done, self.frame_count = frames_done, frame_count
        super().__init__(f"interrupted: kept {frames_done} of {frame_count} upscaled frames of "
                         f"{source.name} in {workdir}; run the same command again to continue "
                         "(--restart to start over)")


def run_video(source: str | os.PathLike, output: str | os.PathLike, upscale_frames: FrameFn, *,
              out_size: Callable[[int, int], tuple[int, int]],
              settings: EncoderSettings = DEFAULT_SETTINGS, restart: bool = False,
              overwrite: bool = False, batch_size: int = 1,
              segment_frames: int = DEFAULT_SEGMENT_FRAMES, job_key: dict | None = None,
              on_progress: ProgressFn | None = None, notify: Notify | None = None,
              info: VideoInfo | None = None,
              encode: Encode = encode_all) -> Path:
    """Upscale every frame of ``source`` with ``upscale_frames`` and write ``output``.

    ``out_size(width, height)`` is the frame size ``upscale_frames`` returns;
    ``job_key`` identifies the network and scale, so a resumed run never mixes
    segments made with another one. Unfinished work of the same job is always
    continued; ``restart`` discards it.
    Ctrl-C raises :class:`VideoInterrupted`, leaving the work folder to continue from.
    ``encode(job, first_segment)`` makes the missing segments and returns the frames
    decoded (``upscale.distributed`` spreads them over a cluster); by default they are
    made here.
    """
    source, output = Path(source), Path(output)
    notify = notify or (lambda message: None)
    check_video_output(output, settings)
    if note := ffmpeg_choice()[1]:
        notify(note)
    with OutputLock.for_file(output, overwrite=overwrite):  # refuses an existing output
        return _run_locked(source, output, upscale_frames, out_size, settings, restart,
                           batch_size, segment_frames, job_key, on_progress, notify, info,
                           encode)


def check_video_output(output: Path, settings: EncoderSettings) -> None:
    """Before any frame (and, from the CLI, before the network loads): the output is a video
    container that holds the codec, and the encoder exists and takes ``--pix-fmt``."""
    if container_for(output) is None:
        known = ", ".join(sorted(CONTAINERS))
        raise UpscaleError(f"{output}: not a video file name; end it with one of {known}")
    check_codec_fits(settings.codec, output)
    supported = encoder_pix_fmts(settings.codec)  # an unknown --codec fails here
    if settings.pix_fmt and supported and settings.pix_fmt not in supported:
        raise UpscaleError(f"--pix-fmt {settings.pix_fmt}: {settings.codec} takes "
                           f"{', '.join(supported)}")


def _run_locked(source: Path, output: Path, upscale_frames: FrameFn,
                out_size: Callable[[int, int], tuple[int, int]], settings: EncoderSettings,
                restart: bool, batch_size: int, segment_frames: int, job_key: dict | None,
                on_progress: ProgressFn | None, notify: Notify, info: VideoInfo | None,
                encode: Encode = encode_all) -> Path:
    info = info or probe(source)
    if missing := info.missing_seconds():
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
    if first_segment:
        notify(resume_message(workdir, first_segment))
    try:
        if first_segment < workdir.segment_count:
            job = TranscodeJob(info, upscale_frames, plan, width, height, workdir,
                               max(1, batch_size), on_progress)
            decoded = encode(job, first_segment)
            _check_frame_count(info, decoded)
        concat = workdir.write_concat(segment_starts(info, workdir))
        for stale in partial_files(output):  # a killed run's half-written output (we own it)
            stale.unlink(missing_ok=True)
        write_atomically(output, lambda target: mux(info, concat, target, streams))
    except KeyboardInterrupt as exc:
        raise VideoInterrupted(source, workdir.path, workdir.frames_done(),
                               info.frame_count) from exc
    workdir.remove()
    return output


def resume_message(workdir: WorkDir, first_segment: int) -> str:
    """Where a continued run picks up, in frames of this clip."""
    done = workdir.frames_done()
    if first_segment >= workdir.segment_count:
        return f"resuming: all {done} frames were already upscaled; writing the file"
    return (f"resuming at frame {done} of {workdir.frame_count} ({first_segment} of "
            f"{workdir.segment_count} segments already done)")


def _check_frame_count(info: VideoInfo, decoded: int) -> None:
    if decoded < info.frame_count:
        raise UpscaleError(f"{info.path}: only {decoded} of {info.frame_count} frames could be "
                           "decoded; the file looks truncated or damaged")
