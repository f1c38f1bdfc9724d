"""``upscale photos/ -o big/``: a whole folder, planned first, then run once, resumable,
with a summary at the end (exit code 1 when any file failed)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from .. import loading
from .. import video as video_engine
from ..errors import InputError, Interrupted, UpscaleError
from ..files import Picture, check_output, read_picture, upscale_picture, write_picture
from ..notes import note
from ..outputs import OutputLock, default_output_dir, output_scale, partial_files
from . import report
from .discover import find_files
from .naming import OutputNaming, make_output_folders
from .plan import Action, Job, Kind, Status, make_plan
from .prefetch import run_overlapped

if TYPE_CHECKING:
    from ..model import ModelDescriptor
    from ..request import Request
    from ..run import PreparedNetwork

EXIT_OK, EXIT_FAILURES = 0, 1


@dataclass(frozen=True)
class VideoSupport:
    """A video's output suffix, and ``upscale.video.upscale_video`` (or a stand-in)."""

    output_suffix: Callable[[Path], str]
    upscale: Callable[..., Path]


def upscale_folder(request: Request, *, load_network: Callable[[], ModelDescriptor] | None = None,
                   prefetch: int = 2, stdout: Console | None = None,
                   stderr: Console | None = None, videos: VideoSupport | None | bool = True,
                   executor: Callable[..., None] | None = None) -> int:
    """Upscale every image (and video) of the request's folder; the exit code. ``load_network``
    runs at most once, only if needed; ``prefetch``: files waiting per queue (0: one at a
    time); ``videos``: True uses ``upscale.video``, False/None skips videos; ``executor`` runs
    the planned jobs elsewhere (a Ray cluster's)."""
    input_dir = request.input
    if not input_dir.is_dir():
        raise InputError(f"{input_dir}: no such folder")
    load_network = load_network or functools.partial(loading.load_choice, request.network)
    stdout = stdout or Console()
    stderr = stderr or Console(stderr=True)

    network = None
    scale = request.known_scale
    if scale is None:
        network = load_network()
        scale = output_scale(None, network)
    output_dir = request.output or default_output_dir(input_dir, scale)
    if output_dir.exists() and not output_dir.is_dir():
        raise UpscaleError(f"{output_dir}: exists and is not a folder")
    naming = OutputNaming(output_dir, scale, request.format, request.name_template)
    video = (VideoSupport(video_engine.output_suffix, video_engine.upscale_video)
             if videos is True else videos or None)

    files, unsearched = find_files(input_dir, recursive=request.recursive,
                                   patterns=list(request.glob), exclude=[output_dir])
    jobs = make_plan(files, input_dir, naming,
                     video_suffix=video.output_suffix if video else None,
                     skip_existing=request.skip_existing, overwrite=request.overwrite)
    if not any(job.kind for job in jobs):
        hint = f" ({unsearched} subfolders not searched: add -r)" if unsearched else ""
        raise InputError(f"{input_dir}: no images or videos to upscale{hint}")
    if unsearched and not request.quiet:
        note(f"{unsearched} subfolder{'s' if unsearched > 1 else ''} of {input_dir} "
             "not searched; add -r to include them")
    if request.dry_run:
        stdout.print(report.plan_table(jobs, output_dir, scale))
        return EXIT_FAILURES if any(job.action is Action.FAIL for job in jobs) else EXIT_OK
    with OutputLock.for_folder(output_dir):
        return _run_plan(jobs, input_dir, naming, network, load_network, video, stdout, stderr,
                         request, prefetch, executor)


def _run_plan(jobs: list[Job], input_dir: Path, naming: OutputNaming,
              network: ModelDescriptor | None, load_network: Callable[[], ModelDescriptor],
              video: VideoSupport | None, stdout: Console, stderr: Console,
              settings: Request, prefetch: int, executor: Callable[..., None] | None) -> int:
    """Load the network if there is work, run the jobs, and summarise, even when stopped."""
    output_dir = naming.output_dir
    outcomes = report.Outcomes()
    for job in jobs:
        if job.action is not Action.UPSCALE:
            outcomes.add(job, Status.SKIPPED if job.action is Action.SKIP else Status.FAILED,
                         job.reason)
    todo = [job for job in jobs if job.action is Action.UPSCALE]
    started = time.perf_counter()
    run = executor or functools.partial(_run_here, prefetch=prefetch)
    if todo:
        network = network if network is not None else load_network()
        if executor is None:  # the network prepared on this machine, for every job
            from ..run.advice import prepare_for

            network = prepare_for(network, settings)
        output_dir.mkdir(parents=True, exist_ok=True)
    try:
        if todo:
            run(todo, network, naming, outcomes, video, stderr, settings)
    except KeyboardInterrupt as exc:
        done = outcomes.count(Status.DONE)
        raise Interrupted(f"interrupted: {done} of {len(todo)} outputs were finished and are "
                          f"kept in {output_dir}; run the same command again to do the "
                          "rest") from exc
    finally:  # an interrupted run still says what it finished
        elapsed = time.perf_counter() - started
        failed = outcomes.count(Status.FAILED)
        if not settings.quiet or failed:
            stdout.print(f"{input_dir} -> {output_dir}: {len(jobs)} files, {elapsed:.1f} s",
                         highlight=False, soft_wrap=True)
            for table in report.summary_tables(outcomes.items):
                stdout.print(table)
    return EXIT_FAILURES if failed else EXIT_OK


def _run_here(todo: list[Job], prepared: PreparedNetwork, naming: OutputNaming,
              outcomes: report.Outcomes, video: VideoSupport | None, stderr: Console,
              settings: Request, prefetch: int) -> None:
    """Images through the overlapped stages, then videos one by one, under one progress bar."""
    progress, task, finished = report.file_progress(stderr, outcomes, len(todo),
                                                    quiet=settings.quiet)
    steps = ImageSteps(prepared, naming.output_dir, naming.scale, settings)

    def compute(job: Job, picture: Picture) -> Picture:
        progress.update(task, current=str(job.relative))
        return steps.compute(job, picture)

    def write(job: Job, upscaled: Picture) -> None:
        steps.write(job, upscaled)
        finished(job, Status.DONE)

    def failed(job: Job, stage: str, error: BaseException) -> None:
        finished(job, Status.FAILED, report.failure_reason(job, error))

    with progress:
        images = [job for job in todo if job.kind is Kind.IMAGE]
        run_overlapped(images, read=steps.read, compute=compute, write=write,
                       on_failure=failed, depth=prefetch)
        for job in (job for job in todo if job.kind is Kind.VIDEO):
            assert video is not None and job.target is not None
            progress.update(task, current=str(job.relative))
            try:
                make_output_folders(job.target, naming.output_dir)
                video.upscale(prepared, job.source, job.target, scale=naming.scale,
                              tile=settings.tile, tile_pad=settings.tile_pad,
                              overwrite=job.replace,
                              on_progress=report.frame_progress(progress, task, job),
                              notify=report.progress_note(progress, settings.quiet))
            except Exception as exc:  # noqa: BLE001 - one file's failure is not the batch's
                failed(job, "video", exc)
            else:
                finished(job, Status.DONE)
        progress.update(task, current="")


@dataclass(frozen=True)
class ImageSteps:
    """Read, compute and write one image of a folder: the same steps here and in a Ray actor."""

    prepared: PreparedNetwork
    output_dir: Path
    scale: float
    settings: Request

    def read(self, job: Job) -> Picture:
        """The picture, once its output is known to fit: a file refused here fails alone,
        before any work, as a single image is refused."""
        assert job.target is not None
        check_output(job.source, job.target, self.scale, max_pixels=self.settings.max_pixels,
                     max_output_pixels=self.settings.max_output_pixels)
        return read_picture(job.source, max_pixels=self.settings.max_pixels)

    def compute(self, job: Job, picture: Picture) -> Picture:
        return upscale_picture(self.prepared, picture, scale=self.scale, tile=self.settings.tile,
                               tile_pad=self.settings.tile_pad)

    def write(self, job: Job, picture: Picture) -> None:
        """Subfolders made and a killed run's leftovers removed, then written atomically."""
        assert job.target is not None
        make_output_folders(job.target, self.output_dir)
        for stale in partial_files(job.target):
            stale.unlink(missing_ok=True)
        write_picture(job.target, picture, quality=self.settings.quality, overwrite=job.replace)
