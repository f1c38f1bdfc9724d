"""``upscale INPUT``: the main command's options, made into a request and executed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import UpscaleError
from ..execute import execute
from ..limits import DEFAULT_MAX_OUTPUT_PIXELS, DEFAULT_MAX_PIXELS
from ..loading import DEFAULT_MODEL
from ..request import make_request
from .console import print_note


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
    resume: Annotated[bool, typer.Option("--resume", hidden=True)] = False,
    restart: Annotated[bool, typer.Option(
        help="Video: discard unfinished work of an earlier run and start over.")] = False,
    max_pixels: Annotated[int, typer.Option(
        help="Refuse input images with more pixels than this (read from the file's header, "
        "before decoding).")] = DEFAULT_MAX_PIXELS,
    max_output_pixels: Annotated[int, typer.Option(
        help="Refuse to make images with more pixels than this (large images stream in "
        "bounded memory; this guards time and disk).")] = DEFAULT_MAX_OUTPUT_PIXELS,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress or notes.")] = False,
    ray: Annotated[str | None, typer.Option(
        "--ray", help="Folders and videos: run on Ray: local, auto (the running cluster) or "
        "ray://HOST:PORT. Needs pip install \"upscale[ray]\".", show_default=False)] = None,
) -> int:
    """Upscale an image, every image and video of a folder, or a video."""
    if resume:  # old scripts: said once, so nobody believes it changes anything
        if restart:
            raise UpscaleError("--resume and --restart contradict each other: give one")
        print_note("--resume is no longer needed: every run continues an interrupted one "
                   "(--restart starts over)")
    request = make_request(
        input, output=output, scale=scale, model=model, alpha=alpha, psnr_model=psnr_model,
        gan_model=gan_model, device=device, precision=precision, tile=tile, tile_pad=tile_pad,
        quality=quality, format=format, name_template=name_template, recursive=recursive,
        glob=glob or (), skip_existing=skip_existing, overwrite=overwrite, restart=restart,
        dry_run=dry_run, quiet=quiet, max_pixels=max_pixels, codec=codec,
        crf=crf, preset=preset, pix_fmt=pix_fmt, ray=ray, max_output_pixels=max_output_pixels)
    return execute(request, report=None if quiet else print_note)
