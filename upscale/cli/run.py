"""``upscale INPUT``: the main command, for one image (folders and videos dispatch on)."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Annotated

import typer

from ..limits import DEFAULT_MAX_PIXELS
from ..loading import DEFAULT_MODEL
from ..notes import note
from ..outputs import (
    DestinationError,
    OutputLock,
    check_destination,
    check_writable_folder,
    default_output,
    format_scale,
    output_scale,
    place_output,
    refuse_existing,
    refuse_input_clash,
)
from ..request import InputKind, Request, make_request
from .blend import load_network
from .console import print_note

# Above this many times the work of the pixels kept, a tile is mostly context.
SMALL_TILE_OVERHEAD = 4.0


def resolve_output(input_path: Path, output: Path | None, as_folder: bool, scale: float) -> Path:
    """Where the result goes: ``-o`` as a file, ``-o`` as a folder, or beside the input."""
    from ..imaging import IMAGE_SUFFIXES  # OpenCV: `upscale --help` stays instant

    target = place_output(default_output(input_path, scale), output, as_folder=as_folder)
    if target == output and output.suffix.lower() not in IMAGE_SUFFIXES:
        raise DestinationError(f"{output}: cannot write {output.suffix or 'suffix-less'} "
                               f"images; end the name with one of {', '.join(IMAGE_SUFFIXES)}")
    return target


def note_small_tile(prepared, tile: int, tile_pad: int | None) -> None:
    """A tile much smaller than its context spends most of its time on the context."""
    if tile <= 0:
        return
    from ..run import default_tile_pad  # imports torch

    pad = default_tile_pad(prepared) if tile_pad is None else tile_pad
    overhead = ((tile + 2 * pad) / tile) ** 2
    if overhead >= SMALL_TILE_OVERHEAD:
        note(f"--tile {tile} with {pad} px of context on each side does about {overhead:.0f}× "
             "the work of untiled; --tile 0 picks the largest tile that fits in memory")


def run_command(
    input: Annotated[Path, typer.Argument(metavar="INPUT",
                                          help="Image, folder or video to upscale.",
                                          show_default=False)],
    output: Annotated[str | None, typer.Option(
        "-o", "--output", help="Output file or folder; a name ending in / is a folder, created "
        "if needed (default: INPUT_x<scale>.png beside the input; for a folder, "
        "INPUT_x<scale>/ beside it).", show_default=False)] = None,
    scale: Annotated[float | None, typer.Option(
        "-s", "--scale", help="Output scale; may differ from the network's (e.g. 2 or 3.5 "
        "with a x4 network). Default: the network's scale.", show_default=False)] = None,
    model: Annotated[str, typer.Option(
        "-m", "--model", help="Registry name, file path, URL, or hf://owner/repo/file "
        "(see `upscale models`).")] = DEFAULT_MODEL,
    alpha: Annotated[float | None, typer.Option(
        help="Blend the model family's PSNR and GAN networks: 0 = faithful and smooth, "
        "1 = sharp texture; 0.8 is ESRGAN's choice.", show_default=False)] = None,
    psnr_model: Annotated[str | None, typer.Option(
        help="PSNR end of a custom --alpha pair.", show_default=False)] = None,
    gan_model: Annotated[str | None, typer.Option(
        help="GAN end of a custom --alpha pair.", show_default=False)] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = "auto",
    precision: Annotated[str, typer.Option(
        help="auto (fp16 on CUDA, but fp32 for 16-bit images; fp32 on CPU), fp32 (no TF32), "
        "fp16, or bf16 (GPUs of compute capability 8.0+).")] = "auto",
    tile: Annotated[int, typer.Option(help="Tile size in input pixels; 0 picks one that "
                                      "fits in memory.")] = 0,
    tile_pad: Annotated[int | None, typer.Option(
        help="Context pixels around each tile (default: enough for seamless tiles).",
        show_default=False)] = None,
    quality: Annotated[int | None, typer.Option(
        help="JPEG/WebP quality, 1-100.", min=1, max=100, show_default=False)] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace existing outputs.")] = False,
    recursive: Annotated[bool, typer.Option(
        "-r", "--recursive", help="Folders: include subfolders.")] = False,
    glob: Annotated[list[str] | None, typer.Option(
        help="Folders: only files matching this pattern (repeatable).",
        show_default=False)] = None,
    format: Annotated[str, typer.Option(
        "--format", help="Folders: output format png, jpg, webp or same.")] = "png",
    name_template: Annotated[str | None, typer.Option(
        help="Folders: output name, from {stem}, {scale}, {ext} (default {stem}_x{scale}.{ext}).",
        show_default=False)] = None,
    skip_existing: Annotated[bool, typer.Option(
        help="Folders: keep outputs that are already complete.")] = True,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Say what would be written, and write nothing.")] = False,
    codec: Annotated[str, typer.Option(help="Video: encoder (libx264, libx265, libvpx-vp9, ...).")
                     ] = "libx264",
    crf: Annotated[int | None, typer.Option(help="Video: encoder quality (lower is better).",
                                            show_default=False)] = None,
    preset: Annotated[str | None, typer.Option(help="Video: encoder preset.",
                                               show_default=False)] = None,
    pix_fmt: Annotated[str | None, typer.Option(
        help="Video: output pixel format (default: the source's).", show_default=False)] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Video: kept for old scripts; an interrupted run always continues "
        "from its last finished segment (--restart starts over).", show_default=False)] = False,
    restart: Annotated[bool, typer.Option(
        help="Video: discard unfinished work of an earlier run and start over.")] = False,
    max_pixels: Annotated[int, typer.Option(
        help="Refuse input images with more pixels than this (read from the file's header, "
        "before decoding).")] = DEFAULT_MAX_PIXELS,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress or notes.")] = False,
    ray: Annotated[str | None, typer.Option(
        "--ray", help="Folders and videos: run on Ray: local, auto (the running cluster) or "
        "ray://HOST:PORT. Needs pip install \"upscale[ray]\".", show_default=False)] = None,
) -> int:
    """Upscale an image, every image and video of a folder, or a video."""
    started = time.perf_counter()
    request = make_request(
        input, output=output, scale=scale, model=model, alpha=alpha, psnr_model=psnr_model,
        gan_model=gan_model, device=device, precision=precision, tile=tile, tile_pad=tile_pad,
        quality=quality, format=format, name_template=name_template, recursive=recursive,
        glob=glob or (), skip_existing=skip_existing, overwrite=overwrite, restart=restart,
        resume=resume, dry_run=dry_run, quiet=quiet, max_pixels=max_pixels, codec=codec,
        crf=crf, preset=preset, pix_fmt=pix_fmt, ray=ray)
    # Before any model loads: the folder every kind of input writes into must be writable.
    check_writable_folder(_folder_of(request), str(output or input))

    def network_loader():
        return load_network(request.network)

    if request.ray is not None and not (request.dry_run and request.kind is InputKind.VIDEO):
        from ..distributed import run_with_ray  # Ray is optional and slow to import

        if request.kind is InputKind.VIDEO and (target := _named_video_target(request)):
            _check_video_target(request, target)  # as a local run does, before any loading

        return run_with_ray(
            request.ray, request.input, request.output, load_network=network_loader,
            scale=request.scale, device=device, precision=precision, tile=tile,
            tile_pad=tile_pad, quiet=quiet, known_scale=request.network.known_scale(),
            folder_options=dict(recursive=recursive, glob=request.glob, format=format,
                                quality=quality, skip_existing=skip_existing,
                                name_template=request.name_template, overwrite=overwrite,
                                dry_run=dry_run, max_pixels=max_pixels),
            video_options=dict(settings=request.encoder, restart=restart, overwrite=overwrite))

    if request.kind is InputKind.FOLDER:
        from ..batch import upscale_folder

        return upscale_folder(
            input, request.output, load_network=network_loader, scale=request.known_scale(),
            device=device, precision=precision, recursive=recursive, glob=request.glob,
            format=format, quality=quality, name_template=request.name_template,
            skip_existing=skip_existing, overwrite=overwrite, dry_run=dry_run, tile=tile,
            tile_pad=tile_pad, quiet=quiet, max_pixels=max_pixels,
        )
    if request.kind is InputKind.VIDEO:
        return _run_video(request, network_loader, started)
    return _run_image(request, network_loader, started)


def _folder_of(request: Request) -> Path:
    """The folder an output of the request goes to, as far as the options tell."""
    as_folder = request.output_is_folder or request.kind is InputKind.FOLDER
    return place_output(request.input.resolve(), request.output, as_folder=as_folder).parent


def _names_the_file(request: Request) -> bool:
    """Whether ``-o`` names the output file itself (no scale in its name)."""
    output = request.output
    return output is not None and not request.output_is_folder and not output.is_dir()


def _say_plan(request: Request, target: Path, scale: float) -> int:
    """``--dry-run`` for one file: what would be written, and nothing else."""
    what = "replace" if target.exists() else "write"
    print(f"{request.input}: would {what} {target} (×{format_scale(scale)}); "
          "nothing was written (--dry-run)")
    return 0


def _run_image(request: Request, network_loader, started: float) -> int:
    """One image: every check that needs no network first, then load, run, write.

    The output is owned (its lock) and checked once, before the model loads, whenever its
    name is known without the network; else right after it loads.
    """
    from ..files import read_picture, upscale_file

    scale = request.known_scale()
    named = 1.0 if _names_the_file(request) else scale  # the scale in the name, if any
    target = None if named is None else resolve_output(
        request.input, request.output, request.output_is_folder, named)
    with contextlib.ExitStack() as owned:
        if target is not None:
            _own_image_target(owned, request, target)
        picture = read_picture(request.input, max_pixels=request.max_pixels)
        if request.dry_run and target is not None and scale is not None:
            return _say_plan(request, target, scale)
        network = network_loader()
        scale = output_scale(request.scale, network)
        if target is None:
            target = resolve_output(request.input, request.output, request.output_is_folder,
                                    scale)
            _own_image_target(owned, request, target)
        if request.dry_run:
            return _say_plan(request, target, scale)

        from ..run import prepare_network  # imports torch

        prepared = prepare_network(network, device=request.device, precision=request.precision)
        note_small_tile(prepared, request.tile, request.tile_pad)
        result = upscale_file(prepared, request.input, target, scale=scale, tile=request.tile,
                              tile_pad=request.tile_pad, quality=request.quality,
                              overwrite=True,  # refused above, once, while holding the lock
                              progress=not request.quiet, picture=picture)
    if not request.quiet:
        h, w = result.pixels.shape[:2]
        print_note(f"wrote {target} ({w}×{h}) in {time.perf_counter() - started:.1f} s")
    return 0


def _own_image_target(owned: contextlib.ExitStack, request: Request, target: Path) -> None:
    """Take the output's lock (not for a dry run) and check the output under it."""
    if not request.dry_run:
        owned.enter_context(OutputLock.for_file(target))
    check_destination(target, overwrite=request.overwrite, source=request.input)


def _run_video(request: Request, network_loader, started: float) -> int:
    """One video: its output checked and owned before the model loads, when it is named."""
    from ..run import prepare_network  # imports torch
    from ..video.file import upscale_video_file, video_target  # numpy, OpenCV

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
        prepared = prepare_network(network, device=request.device, precision=request.precision)
        upscale_video_file(request.input, target, prepared=prepared, scale=scale,
                           tile=request.tile, tile_pad=request.tile_pad,
                           settings=request.encoder, restart=request.restart,
                           overwrite=request.overwrite, quiet=request.quiet)
    if not request.quiet:
        print_note(f"wrote {target} in {time.perf_counter() - started:.1f} s")
    return 0


def _named_video_target(request: Request) -> Path | None:
    """A video's output path, when it is known before the network loads."""
    from ..video.file import video_target  # numpy, OpenCV

    named = 1.0 if _names_the_file(request) else request.known_scale()
    if named is None:
        return None
    return video_target(request.input, request.output, named, request.encoder.codec)


def _check_video_target(request: Request, target: Path) -> None:
    """A video output that is not the input, is a video name the encoder can write, and is
    new (or to be replaced)."""
    from ..video.job import check_video_output  # numpy, OpenCV

    refuse_input_clash(target, request.input)
    check_video_output(target, request.encoder)
    refuse_existing(target, request.overwrite)


def _own_video_target(owned: contextlib.ExitStack, request: Request, target: Path) -> None:
    """The video output owned by this run (not for a dry run), then checked under its lock."""
    if not request.dry_run:
        owned.enter_context(OutputLock.for_file(target))
    _check_video_target(request, target)
