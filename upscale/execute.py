"""A checked request, run on its road: one image, a folder, a video, or any of them on Ray.

What ``upscale INPUT`` does once its options are a :class:`~upscale.request.Request`, and
what Python callers do with one of their own: the same checks, in the same order."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from . import distributed, loading
from .batch import upscale_folder
from .batch.plan import Job, Kind
from .batch.report import plan_table
from .files import check_output, read_picture, upscale_file
from .imaging import IMAGE_SUFFIXES
from .notes import note
from .outputs import (
    DestinationError,
    OutputLock,
    check_destination,
    check_writable_folder,
    default_output,
    output_scale,
    place_output,
    refuse_existing,
    refuse_input_clash,
)
from .request import InputKind, Request
from .video import default_batch_size, frame_upscaler, run_engine, weights_fingerprint
from .video.file import FrameBar, video_target
from .video.job import VideoEngine, check_video_output

if TYPE_CHECKING:
    from .model import ModelDescriptor


def execute(request: Request, *, load_network: Callable[[], ModelDescriptor] | None = None,
            report: Callable[[str], None] | None = None) -> int:
    """Run a checked request on its road (image, folder, video, Ray); the exit code.
    ``load_network`` (default: what ``request.network`` names) is called at most once, only
    when the work or the output's name needs it; ``report`` hears what was written."""
    started = time.perf_counter()
    network_loader = load_network or functools.partial(loading.load_choice, request.network)
    # Before any model loads: the folder every kind of input writes into must be writable.
    as_folder = request.output_is_folder or request.kind is InputKind.FOLDER
    folder = place_output(request.input.resolve(), request.output, as_folder=as_folder).parent
    check_writable_folder(folder, str(request.output or request.input))

    if request.ray is not None:
        distributed.check_ray_request(request)
        if distributed.is_client(request.ray):  # the whole run on the cluster, joining it
            return distributed.run_on_cluster(request.ray, _execute_joined, request,
                                              network_loader, report)
        if request.kind is InputKind.FOLDER:
            return distributed.upscale_folder_on_ray(request, load_network=network_loader)
    if request.kind is InputKind.FOLDER:
        return upscale_folder(request, load_network=network_loader)
    wrote = _run_file(request, network_loader)
    if wrote and report:
        report(f"{wrote} in {time.perf_counter() - started:.1f} s")
    return 0


def _execute_joined(address: str, request: Request,
                    load_network: Callable[[], ModelDescriptor],
                    report: Callable[[str], None] | None) -> int:
    """:func:`execute` on a cluster node, joining the cluster at ``address`` (``auto``)."""
    return execute(dataclasses.replace(request, ray=address), load_network=load_network,
                   report=report)


def _say_plan(request: Request, target: Path, scale: float) -> str:
    """``--dry-run`` for one file: the plan a folder prints, of one file (on stdout)."""
    kind = Kind.VIDEO if request.kind is InputKind.VIDEO else Kind.IMAGE
    job = Job(request.input, Path(request.input.name), kind, target, replace=target.exists())
    Console().print(plan_table([job], target.parent, scale))
    return ""


def _run_file(request: Request, network_loader: Callable[[], ModelDescriptor]) -> str:
    """One image or one video: every check that needs no network first, then load, run,
    write; what was written ("" for a dry run). The output is owned (its lock) before the
    model loads whenever its name is known without the network; else right after."""
    scale = request.known_scale
    output = request.output
    names_the_file = output is not None and not request.output_is_folder and not output.is_dir()
    named = 1.0 if names_the_file else scale  # the scale in the output's name, if any
    target = None if named is None else _target(request, named)
    with contextlib.ExitStack() as owned:
        if target is not None:
            _own(owned, request, target, scale)
        picture = None  # read before the network loads: a bad input fails fast
        if request.kind is InputKind.IMAGE:
            picture = read_picture(request.input, max_pixels=request.max_pixels)
        if request.dry_run and target is not None and scale is not None:
            return _say_plan(request, target, scale)
        network = network_loader()
        known_before = scale is not None
        scale = output_scale(request.scale, network)
        if target is not None and not known_before:  # its size is known only now
            _check_size(request, target, scale)
        if target is None:
            target = _target(request, scale)
            _own(owned, request, target, scale)
        if request.dry_run:
            return _say_plan(request, target, scale)
        if request.kind is InputKind.VIDEO:
            return _upscale_video(request, network, scale, target)
        return _upscale_image(request, network, scale, target, picture)


def _target(request: Request, scale: float) -> Path:
    """The output, for the scale in its name: ``-o`` as a file or a folder, or beside the input."""
    if request.kind is InputKind.VIDEO:
        return video_target(request.input, request.output, scale, request.encoder.codec)
    output = request.output
    target = place_output(default_output(request.input, scale), output,
                          as_folder=request.output_is_folder)
    if target == output and output.suffix.lower() not in IMAGE_SUFFIXES:
        raise DestinationError(f"{output}: cannot write {output.suffix or 'suffix-less'} "
                               f"images; end the name with one of {', '.join(IMAGE_SUFFIXES)}")
    return target


def _own(owned: contextlib.ExitStack, request: Request, target: Path,
         scale: float | None) -> None:
    """The output checked (its size too, when the scale is known), then its lock taken for
    the rest of the run, refusing an existing output once, under the lock (a dry run takes
    no lock, and only refuses). A refusal before the lock leaves nothing behind."""
    if request.kind is InputKind.VIDEO:
        refuse_input_clash(target, request.input)
        check_video_output(target, request.encoder)
    else:
        check_destination(target, source=request.input)
    if scale is not None:
        _check_size(request, target, scale)
    if request.dry_run:
        refuse_existing(target, request.overwrite)
    else:
        owned.enter_context(OutputLock.for_file(target, overwrite=request.overwrite))


def _check_size(request: Request, target: Path, scale: float) -> None:
    """An image's output must fit its format, the pixel limits and the free space."""
    if request.kind is InputKind.IMAGE:
        check_output(request.input, target, scale, max_pixels=request.max_pixels,
                     max_output_pixels=request.max_output_pixels)


def _upscale_image(request: Request, network: ModelDescriptor, scale: float, target: Path,
                   picture: Any) -> str:
    from .run.advice import prepare_for

    prepared = prepare_for(network, request, max(picture.size))
    result = upscale_file(prepared, request.input, target, scale=scale, tile=request.tile,
                          tile_pad=request.tile_pad, quality=request.quality,
                          overwrite=True,  # refused once, under the lock
                          progress=not request.quiet, picture=picture)
    w, h = result.size
    return f"wrote {target} ({w}×{h})"


def _upscale_video(request: Request, network: ModelDescriptor, scale: float, target: Path
                   ) -> str:
    """Here, or with the segments made on a Ray cluster (``--ray``)."""
    with _video_engine(request, network, scale) as engine, \
            FrameBar(request.input.name, request.quiet) as on_progress:
        run_engine(engine, request.input, target, scale=scale, tile=request.tile,
                   fingerprint=weights_fingerprint(network), settings=request.encoder,
                   restart=request.restart, overwrite=True,  # refused once, under the lock
                   on_progress=on_progress,
                   notify=(lambda message: None) if request.quiet else note)
    return f"wrote {target}"


def _video_engine(request: Request, network: ModelDescriptor, scale: float
                  ) -> contextlib.AbstractContextManager[VideoEngine]:
    """Where the frames are made: on the cluster ``--ray`` names, or here."""
    if request.ray is not None:
        return distributed.cluster_video_engine(request, network, scale)
    from .run.advice import prepare_for

    prepared = prepare_for(network, request)
    return contextlib.nullcontext(VideoEngine(
        frame_upscaler(prepared, scale, tile=request.tile, tile_pad=request.tile_pad),
        default_batch_size(str(prepared.device))))
