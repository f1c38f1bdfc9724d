"""A checked request, run on its road: one image, a folder, a video, or any of them on Ray.

:func:`execute` is what ``upscale INPUT`` does once its options are a
:class:`~upscale.request.Request`, and what Python callers do with one of their own
(``execute(make_request("photo.jpg", scale=2))``): the same checks, in the same order,
with the same errors. Whatever can be known before the network loads is checked
before it loads; an output is owned (its lock) and refused if it exists once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from . import distributed
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

    ``load_network`` is called at most once, and only when the work (or the output's
    name) needs the network; by default it loads what ``request.network`` names.
    ``report`` hears what was written ("wrote photo_x4.png (1024×768) in 3.1 s").
    """
    started = time.perf_counter()
    report = report or (lambda message: None)
    network_loader = load_network or request.network.load
    # Before any model loads: the folder every kind of input writes into must be writable.
    check_writable_folder(_folder_of(request), str(request.output or request.input))

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
    if wrote:
        report(f"{wrote} in {time.perf_counter() - started:.1f} s")
    return 0


def _execute_joined(address: str, request: Request,
                    load_network: Callable[[], ModelDescriptor],
                    report: Callable[[str], None]) -> int:
    """:func:`execute` on a cluster node, joining the cluster at ``address`` (``auto``)."""
    return execute(dataclasses.replace(request, ray=address), load_network=load_network,
                   report=report)


def resolve_output(input_path: Path, output: Path | None, as_folder: bool, scale: float) -> Path:
    """Where the result goes: ``-o`` as a file, ``-o`` as a folder, or beside the input."""
    target = place_output(default_output(input_path, scale), output, as_folder=as_folder)
    if target == output and output.suffix.lower() not in IMAGE_SUFFIXES:
        raise DestinationError(f"{output}: cannot write {output.suffix or 'suffix-less'} "
                               f"images; end the name with one of {', '.join(IMAGE_SUFFIXES)}")
    return target


def _folder_of(request: Request) -> Path:
    """The folder an output of the request goes to, as far as the options tell."""
    as_folder = request.output_is_folder or request.kind is InputKind.FOLDER
    return place_output(request.input.resolve(), request.output, as_folder=as_folder).parent


def _names_the_file(request: Request) -> bool:
    """Whether ``-o`` names the output file itself (no scale in its name)."""
    output = request.output
    return output is not None and not request.output_is_folder and not output.is_dir()


def _say_plan(request: Request, target: Path, scale: float) -> str:
    """``--dry-run`` for one file: the plan a folder prints, of one file (on stdout)."""
    kind = Kind.VIDEO if request.kind is InputKind.VIDEO else Kind.IMAGE
    job = Job(request.input, Path(request.input.name), kind, target, replace=target.exists())
    Console().print(plan_table([job], target.parent, scale))
    return ""


@dataclass(frozen=True)
class _FileRoad:
    """What differs between one image and one video; :func:`_run_file` does the rest."""

    target: Callable[[Request, float], Path]  # the output, for the scale in its name
    check: Callable[[Request, Path], None]  # before the lock: can it be written here?
    limits: Callable[[Request, Path, float], None]  # its size: format, pixels, free space
    read: Callable[[Request], Any]  # before the network loads: a bad input fails fast
    run: Callable[[Request, ModelDescriptor, float, Path, Any], str]  # what was written


def _run_file(request: Request, network_loader: Callable[[], ModelDescriptor]) -> str:
    """One image or one video: every check that needs no network first, then load, run,
    write; what was written ("" for a dry run).

    The output is owned (its lock) and refused if it exists once, before the model
    loads whenever its name is known without the network; else right after it loads.
    """
    road = _VIDEO if request.kind is InputKind.VIDEO else _IMAGE
    scale = request.known_scale()
    named = 1.0 if _names_the_file(request) else scale  # the scale in the name, if any
    target = None if named is None else road.target(request, named)
    with contextlib.ExitStack() as owned:
        if target is not None:
            _own(owned, request, target, road, scale)
        source = road.read(request)
        if request.dry_run and target is not None and scale is not None:
            return _say_plan(request, target, scale)
        network = network_loader()
        known_before = scale is not None
        scale = output_scale(request.scale, network)
        if target is not None and not known_before:  # its size is known only now
            road.limits(request, target, scale)
        if target is None:
            target = road.target(request, scale)
            _own(owned, request, target, road, scale)
        if request.dry_run:
            return _say_plan(request, target, scale)
        return road.run(request, network, scale, target, source)


def _own(owned: contextlib.ExitStack, request: Request, target: Path, road: _FileRoad,
         scale: float | None) -> None:
    """The output checked (its size too, when the scale is known), then its lock taken for
    the rest of the run, refusing an existing output once, under the lock (a dry run takes
    no lock, and only refuses). A refusal before the lock leaves nothing behind."""
    road.check(request, target)
    if scale is not None:
        road.limits(request, target, scale)
    if request.dry_run:
        refuse_existing(target, request.overwrite)
    else:
        owned.enter_context(OutputLock.for_file(target, overwrite=request.overwrite))


def _image_target(request: Request, scale: float) -> Path:
    return resolve_output(request.input, request.output, request.output_is_folder, scale)


def _check_image_target(request: Request, target: Path) -> None:
    check_destination(target, source=request.input)


def _image_limits(request: Request, target: Path, scale: float) -> None:
    check_output(request.input, target, scale, max_pixels=request.max_pixels,
                 max_output_pixels=request.max_output_pixels)


def _read_image(request: Request) -> Any:
    return read_picture(request.input, max_pixels=request.max_pixels)


def _upscale_image(request: Request, network: ModelDescriptor, scale: float, target: Path,
                   picture: Any) -> str:
    from .run import prepare_network
    from .run.advice import note_tile_choice

    prepared = prepare_network(network, device=request.device, precision=request.precision)
    note_tile_choice(prepared, request.tile, request.tile_pad, max(picture.size))
    result = upscale_file(prepared, request.input, target, scale=scale, tile=request.tile,
                          tile_pad=request.tile_pad, quality=request.quality,
                          overwrite=True,  # refused once, under the lock
                          progress=not request.quiet, picture=picture)
    w, h = result.size
    return f"wrote {target} ({w}×{h})"


def _video_target(request: Request, scale: float) -> Path:
    return video_target(request.input, request.output, scale, request.encoder.codec)


def _check_video_target(request: Request, target: Path) -> None:
    """A video output that is not the input and is a video name the encoder can write."""
    refuse_input_clash(target, request.input)
    check_video_output(target, request.encoder)


def _upscale_video(request: Request, network: ModelDescriptor, scale: float, target: Path,
                   source: Any) -> str:
    """Here, or with the segments made on a Ray cluster (``--ray``)."""
    with _video_engine(request, network, scale) as engine, \
            FrameBar(request.input.name, request.quiet) as on_progress:
        run_engine(engine, request.input, target, scale=scale, tile=request.tile,
                   fingerprint=weights_fingerprint(network), settings=request.encoder,
                   restart=request.restart, overwrite=True,  # refused once, under the lock
                   on_progress=on_progress,
                   notify=(lambda message: None) if request.quiet else note)
    return f"wrote {target}"


_IMAGE = _FileRoad(_image_target, _check_image_target, _image_limits, _read_image,
                   _upscale_image)
_VIDEO = _FileRoad(_video_target, _check_video_target, lambda request, target, scale: None,
                   lambda request: None, _upscale_video)


@contextlib.contextmanager
def _video_engine(request: Request, network: ModelDescriptor, scale: float
                  ) -> Iterator[VideoEngine]:
    """Where the frames are made: on the cluster ``--ray`` names, or here."""
    if request.ray is not None:
        with distributed.cluster_video_engine(request, network, scale) as engine:
            yield engine
        return
    from .run import prepare_network
    from .run.advice import note_tile_choice

    prepared = prepare_network(network, device=request.device, precision=request.precision)
    note_tile_choice(prepared, request.tile, request.tile_pad)
    yield VideoEngine(frame_upscaler(prepared, scale, tile=request.tile,
                                     tile_pad=request.tile_pad),
                      default_batch_size(str(prepared.device)))
