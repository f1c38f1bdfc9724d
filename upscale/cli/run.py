"""``upscale INPUT``: the main command, for one image (folders and videos dispatch on)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError, UpscaleError
from ..limits import DEFAULT_MAX_PIXELS, check_tile_options
from ..loading import DEFAULT_MODEL
from ..loading.registry import find_model
from ..notes import note
from ..outputs import (
    DEFAULT_NAME_TEMPLATE,
    DestinationError,
    OutputLock,
    check_destination,
    check_scale,
    check_writable_folder,
    default_output,
    place_output,
    refuse_existing,
)
from .console import print_note

# Above this many times the work of the pixels kept, a tile is mostly context.
SMALL_TILE_OVERHEAD = 4.0


def resolve_output(input_path: Path, output: Path | None, as_folder: bool, scale: float) -> Path:
    """Where the result goes: ``-o`` as a file, ``-o`` as a folder, or beside the input."""
    from ..imaging import IMAGE_SUFFIXES  # lazy: the CLI starts without torch

    target = place_output(default_output(input_path, scale), output, as_folder=as_folder)
    if target == output and output.suffix.lower() not in IMAGE_SUFFIXES:
        raise DestinationError(f"{output}: cannot write {output.suffix or 'suffix-less'} "
                               f"images; end the name with one of {', '.join(IMAGE_SUFFIXES)}")
    return target


def registry_scale(model: str, alpha: float | None, psnr_model: str | None,
                   gan_model: str | None) -> float | None:
    """The output scale of a registry model, known without loading it (None otherwise)."""

    if psnr_model or gan_model or Path(model).expanduser().exists():
        return None
    entry = find_model(model)
    return float(entry.scale) if entry is not None else None


def note_small_tile(prepared, tile: int, tile_pad: int | None) -> None:
    """A tile much smaller than its context spends most of its time on the context."""
    if tile <= 0:
        return
    from ..run import default_tile_pad  # lazy: the CLI starts without torch

    pad = default_tile_pad(prepared) if tile_pad is None else tile_pad
    overhead = ((tile + 2 * pad) / tile) ** 2
    if overhead >= SMALL_TILE_OVERHEAD:
        note(f"--tile {tile} with {pad} px of context on each side does about {overhead:.0f}× "
             "the work of untiled; --tile 0 picks the largest tile that fits in memory")


def load_network(model: str, alpha: float | None, psnr_model: str | None,
                 gan_model: str | None):
    """The network the options name: one model, a family member, or a blended pair."""
    from ..loading.families import load_family_model
    from ..loading.interpolation import load_blended_model  # lazy: the CLI starts without torch
    from .blend import lineage_warnings_as_notes

    if psnr_model or gan_model:
        if not (psnr_model and gan_model):
            raise UpscaleError("--psnr-model and --gan-model go together: give both")
        if alpha is None:
            raise UpscaleError("--psnr-model/--gan-model need --alpha (0 = PSNR end, 1 = GAN end)")
        with lineage_warnings_as_notes():
            return load_blended_model(psnr_model, gan_model, alpha)
    with lineage_warnings_as_notes():
        return load_family_model(model, alpha)


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
    dry_run: Annotated[bool, typer.Option(help="Folders: list what would be done.")] = False,
    codec: Annotated[str, typer.Option(help="Video: encoder (libx264, libx265, libvpx-vp9, ...).")
                     ] = "libx264",
    crf: Annotated[int | None, typer.Option(help="Video: encoder quality (lower is better).",
                                            show_default=False)] = None,
    preset: Annotated[str | None, typer.Option(help="Video: encoder preset.",
                                               show_default=False)] = None,
    pix_fmt: Annotated[str | None, typer.Option(
        help="Video: output pixel format (default: the source's).", show_default=False)] = None,
    resume: Annotated[bool, typer.Option(
        help="Video: continue an interrupted run from its last finished segment (the "
        "default; kept for old scripts).")] = False,
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
    if not input.exists():
        raise InputError(f"{input}: no such file or folder")
    check_scale(scale)
    check_tile_options(tile, tile_pad)
    destination = None if output is None else Path(output)
    as_folder = output is not None and output.endswith(("/", os.sep))
    # Before any model loads: the folder every kind of input writes into must be writable.
    check_writable_folder(_folder_of(input, destination, as_folder or input.is_dir()),
                          str(output or input))

    def network_loader():
        return load_network(model, alpha, psnr_model, gan_model)

    if ray is not None:
        from ..distributed import run_with_ray  # lazy: Ray is optional and slow to import

        return run_with_ray(
            ray, input, destination, load_network=network_loader, scale=scale, device=device,
            precision=precision, tile=tile, tile_pad=tile_pad, quiet=quiet,
            known_scale=registry_scale(model, alpha, psnr_model, gan_model),
            folder_options=dict(recursive=recursive, glob=glob or (), format=format,
                                quality=quality, skip_existing=skip_existing,
                                name_template=name_template or DEFAULT_NAME_TEMPLATE,
                                overwrite=overwrite, dry_run=dry_run, max_pixels=max_pixels),
            video_options=dict(codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt,
                               resume=resume, restart=restart, overwrite=overwrite))

    if input.is_dir():
        # lazy: the CLI starts without torch
        from ..batch import upscale_folder

        return upscale_folder(
            input, destination, load_network=network_loader,
            scale=scale or registry_scale(model, alpha, psnr_model, gan_model), device=device,
            precision=precision, recursive=recursive, glob=glob or (), format=format,
            quality=quality, name_template=name_template or DEFAULT_NAME_TEMPLATE,
            skip_existing=skip_existing, overwrite=overwrite, dry_run=dry_run, tile=tile,
            tile_pad=tile_pad, quiet=quiet, max_pixels=max_pixels,
        )

    from .run_video import is_video_input  # lazy: the CLI starts without torch

    if is_video_input(input):
        from .run_video import check_video_target, upscale_video_file

        check_video_target(input, destination, scale or registry_scale(
            model, alpha, psnr_model, gan_model), codec, overwrite)
        from ..run import prepare_network  # lazy: the CLI starts without torch

        network = network_loader()
        prepared = prepare_network(network, device=device, precision=precision)
        upscale_video_file(input, destination, prepared=prepared,
                           scale=scale or network.output_scale, tile=tile, tile_pad=tile_pad,
                           codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt, resume=resume,
                           restart=restart, overwrite=overwrite, quiet=quiet)
        return 0

    return _run_image(input, destination, as_folder, network_loader, started=started,
                      scale=scale, known_scale=lambda: registry_scale(model, alpha, psnr_model,
                                                                      gan_model),
                      device=device, precision=precision,
                      tile=tile, tile_pad=tile_pad, quality=quality, overwrite=overwrite,
                      quiet=quiet, max_pixels=max_pixels)


def _folder_of(input_path: Path, destination: Path | None, as_folder: bool) -> Path:
    """The folder an output of ``input_path`` goes to, as far as the options tell."""
    return place_output(input_path.resolve(), destination, as_folder=as_folder).parent


def _run_image(input: Path, destination: Path | None, as_folder: bool, network_loader, *,
               started: float, scale: float | None, known_scale, device: str,
               precision: str, tile: int, tile_pad: int | None, quality: int | None,
               overwrite: bool, quiet: bool, max_pixels: int) -> int:
    """One image: every check that needs no network first, then load, run, write."""
    from ..files import read_picture, upscale_file  # lazy: the CLI starts without torch

    if as_folder or destination is None or destination.is_dir():
        named_scale = scale or known_scale()  # a registry model's scale, without loading it
    else:
        named_scale = scale or 1.0  # -o names the file: no scale in its name
    if named_scale is not None:  # the name is known before the network is: check it now
        check_destination(resolve_output(input, destination, as_folder, named_scale),
                          overwrite=overwrite, source=input)
    picture = read_picture(input, max_pixels=max_pixels)  # a bad input fails before the model
    network = network_loader()
    scale = scale or network.output_scale
    target = resolve_output(input, destination, as_folder, scale)
    check_destination(target, overwrite=overwrite, source=input)

    from ..run import prepare_network  # lazy: the CLI starts without torch

    with OutputLock.for_file(target):
        refuse_existing(target, overwrite)  # another run may have finished it meanwhile
        prepared = prepare_network(network, device=device, precision=precision)
        note_small_tile(prepared, tile, tile_pad)
        result = upscale_file(prepared, input, target, scale=scale, tile=tile, tile_pad=tile_pad,
                              quality=quality, overwrite=overwrite, progress=not quiet,
                              picture=picture)
    if not quiet:
        h, w = result.pixels.shape[:2]
        print_note(f"wrote {target} ({w}×{h}) in {time.perf_counter() - started:.1f} s")
    return 0
