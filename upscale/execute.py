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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .notes import note
from .outputs import (
    DestinationError,
    OutputLock,
    check_destination,
    check_writable_folder,
    default_output,
    output_scale,
    output_size,
    place_output,
    refuse_existing,
    refuse_input_clash,
)
from .request import InputKind, Request

if TYPE_CHECKING:
    from .model import ModelDescriptor
    from .video.job import VideoEngine

# Above this many times the work of the pixels kept, a tile is mostly context.
SMALL_TILE_OVERHEAD = 4.0


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
        from . import distributed  # Ray is optional and slow to import

        distributed.check_ray_request(request)
        if distributed.is_client(request.ray):  # the whole run on the cluster, joining it
            return distributed.run_on_cluster(request.ray, _execute_joined, request,
                                              network_loader, report)
        if request.kind is InputKind.FOLDER:
            return distributed.run_folder_with_ray(request, network_loader,
                                                   folder_options=_folder_options(request))
    if request.kind is InputKind.FOLDER:
        from .batch import upscale_folder

        return upscale_folder(request.input, request.output, load_network=network_loader,
                              scale=request.known_scale(), device=request.device,
                              precision=request.precision, tile=request.tile,
                              tile_pad=request.tile_pad, quiet=request.quiet,
                              **_folder_options(request))
    run = _run_video if request.kind is InputKind.VIDEO else _run_image
    wrote = run(request, network_loader)
    if wrote:
        report(f"{wrote} in {time.perf_counter() - started:.1f} s")
    return 0


def _execute_joined(address: str, request: Request,
                    load_network: Callable[[], ModelDescriptor],
                    report: Callable[[str], None]) -> int:
    """:func:`execute` on a cluster node, joining the cluster at ``address`` (``auto``)."""
    return execute(dataclasses.replace(request, ray=address), load_network=load_network,
                   report=report)


def _folder_options(request: Request) -> dict[str, Any]:
    """What a folder run takes beyond the network and the tiles, local or on Ray."""
    return dict(recursive=request.recursive, glob=request.glob, format=request.format,
                quality=request.quality, skip_existing=request.skip_existing,
                name_template=request.name_template, overwrite=request.overwrite,
                dry_run=request.dry_run, max_pixels=request.max_pixels)


def resolve_output(input_path: Path, output: Path | None, as_folder: bool, scale: float) -> Path:
    """Where the result goes: ``-o`` as a file, ``-o`` as a folder, or beside the input."""
    from .imaging import IMAGE_SUFFIXES  # OpenCV: `upscale --help` stays instant

    target = place_output(default_output(input_path, scale), output, as_folder=as_folder)
    if target == output and output.suffix.lower() not in IMAGE_SUFFIXES:
        raise DestinationError(f"{output}: cannot write {output.suffix or 'suffix-less'} "
                               f"images; end the name with one of {', '.join(IMAGE_SUFFIXES)}")
    return target


def note_small_tile(prepared, tile: int, tile_pad: int | None) -> None:
    """A tile much smaller than its context spends most of its time on the context."""
    if tile <= 0:
        return
    from .run import default_tile_pad  # imports torch

    pad = default_tile_pad(prepared) if tile_pad is None else tile_pad
    overhead = ((tile + 2 * pad) / tile) ** 2
    if overhead >= SMALL_TILE_OVERHEAD:
        note(f"--tile {tile} with {pad} px of context on each side does about {overhead:.0f}× "
             "the work of untiled; --tile 0 picks the largest tile that fits in memory")


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
    from rich.console import Console

    from .batch.plan import Job, Kind
    from .batch.report import plan_table

    kind = Kind.VIDEO if request.kind is InputKind.VIDEO else Kind.IMAGE
    job = Job(request.input, Path(request.input.name), kind, target, replace=target.exists())
    Console().print(plan_table([job], target.parent, scale))
    return ""


def _run_image(request: Request, network_loader: Callable[[], ModelDescriptor]) -> str:
    """One image: every check that needs no network first, then load, run, write; what
    was written ("" for a dry run).

    The output is owned (its lock) and checked once, before the model loads, whenever its
    name is known without the network; else right after it loads.
    """
    from .files import check_output, read_picture, upscale_file

    scale = request.known_scale()
    named = 1.0 if _names_the_file(request) else scale  # the scale in the name, if any
    target = None if named is None else resolve_output(
        request.input, request.output, request.output_is_folder, named)
    owned_target = target is not None
    checked = owned_target and scale is not None  # what the output can be, before its lock
    with contextlib.ExitStack() as owned:
        if target is not None:
            if checked:
                check_destination(target, source=request.input)
                check_output(request.input, target, scale, max_pixels=request.max_pixels,
                             max_output_pixels=request.max_output_pixels)
            _own_image_target(owned, request, target)
        picture = read_picture(request.input, max_pixels=request.max_pixels)
        if request.dry_run and target is not None and scale is not None:
            return _say_plan(request, target, scale)
        network = network_loader()
        scale = output_scale(request.scale, network)
        if target is None:
            target = resolve_output(request.input, request.output, request.output_is_folder,
                                    scale)
        if not checked:
            check_destination(target, source=request.input)
            check_output(request.input, target, scale, max_pixels=request.max_pixels,
                         max_output_pixels=request.max_output_pixels)
        if not owned_target:
            _own_image_target(owned, request, target)
        if request.dry_run:
            return _say_plan(request, target, scale)

        from .run import prepare_network  # imports torch

        prepared = prepare_network(network, device=request.device, precision=request.precision)
        note_small_tile(prepared, request.tile, request.tile_pad)
        result = upscale_file(prepared, request.input, target, scale=scale, tile=request.tile,
                              tile_pad=request.tile_pad, quality=request.quality,
                              overwrite=True,  # refused above, once, while holding the lock
                              progress=not request.quiet, picture=picture)
    w, h = result.size
    return f"wrote {target} ({w}×{h})"


def _own_image_target(owned: contextlib.ExitStack, request: Request, target: Path) -> None:
    """An image output that can be written, owned by this run."""
    check_destination(target, source=request.input)
    _own(owned, request, target)


def _own(owned: contextlib.ExitStack, request: Request, target: Path) -> None:
    """The output's lock, taken for the rest of the run, refusing an existing output once,
    under the lock (a dry run takes no lock, and only refuses)."""
    if request.dry_run:
        refuse_existing(target, request.overwrite)
    else:
        owned.enter_context(OutputLock.for_file(target, overwrite=request.overwrite))


def _run_video(request: Request, network_loader: Callable[[], ModelDescriptor]) -> str:
    """One video, here or with its segments made on a Ray cluster: its output checked and
    owned before the model loads, when it is named; what was written ("" for a dry run)."""
    from .video import resume_key, run_video, weights_fingerprint  # numpy, OpenCV
    from .video.file import FrameBar, video_target

    scale = request.known_scale()
    target = _named_video_target(request)
    with contextlib.ExitStack() as owned:
        if target is not None:
            _own_video_target(owned, request, target)
            if request.dry_run and scale is not None:
                return _say_plan(request, target, scale)
        network = network_loader()
        scale = output_scale(request.scale, network)
        if target is None:
            target = video_target(request.input, request.output, scale, request.encoder.codec)
            _own_video_target(owned, request, target)
        if request.dry_run:
            return _say_plan(request, target, scale)
        engine = owned.enter_context(_video_engine(request, network, scale))
        with FrameBar(request.input.name, request.quiet) as on_progress:
            run_video(request.input, target, engine.upscale_frames,
                      out_size=lambda w, h: output_size(w, h, scale), settings=request.encoder,
                      restart=request.restart, overwrite=True,  # refused above, under the lock
                      batch_size=engine.batch_size, encode=engine.encode,
                      job_key=resume_key(weights_fingerprint(network), scale, request.tile),
                      on_progress=on_progress, notify=(lambda message: None) if request.quiet
                      else note)
    return f"wrote {target}"


@contextlib.contextmanager
def _video_engine(request: Request, network: ModelDescriptor, scale: float
                  ) -> Iterator[VideoEngine]:
    """Where the frames are made: on the cluster ``--ray`` names, or here."""
    if request.ray is not None:
        from .distributed import cluster_video_engine

        with cluster_video_engine(request, network, scale) as engine:
            yield engine
        return
    from .run import prepare_network  # imports torch
    from .video import default_batch_size, frame_upscaler
    from .video.job import VideoEngine

    prepared = prepare_network(network, device=request.device, precision=request.precision)
    yield VideoEngine(frame_upscaler(prepared, scale, tile=request.tile,
                                     tile_pad=request.tile_pad),
                      default_batch_size(str(prepared.device)))


def _named_video_target(request: Request) -> Path | None:
    """A video's output path, when it is known before the network loads."""
    from .video.file import video_target  # numpy, OpenCV

    named = 1.0 if _names_the_file(request) else request.known_scale()
    if named is None:
        return None
    return video_target(request.input, request.output, named, request.encoder.codec)


def _check_video_target(request: Request, target: Path) -> None:
    """A video output that is not the input and is a video name the encoder can write."""
    from .video.job import check_video_output  # numpy, OpenCV

    refuse_input_clash(target, request.input)
    check_video_output(target, request.encoder)


def _own_video_target(owned: contextlib.ExitStack, request: Request, target: Path) -> None:
    """A video output that can be written, owned by this run (the video engine enters the
    same lock again, and does not check twice)."""
    _check_video_target(request, target)
    _own(owned, request, target)
