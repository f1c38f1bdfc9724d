"""``upscale INPUT``: the main command, for one image (folders and videos dispatch on)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError, UpscaleError
from .console import print_note

DEFAULT_MODEL = "realesrgan-x4plus"


def format_scale(scale: float) -> str:
    """4.0 -> '4', 3.5 -> '3.5': the way scales appear in output names."""
    return f"{scale:g}"


def default_output(input_path: Path, scale: float, suffix: str = ".png") -> Path:
    """``photo.jpg`` at x4 -> ``photo_x4.png`` beside the input."""
    return input_path.with_name(f"{input_path.stem}_x{format_scale(scale)}{suffix}")


def resolve_output(input_path: Path, output: Path | None, scale: float) -> Path:
    """Where the result goes: ``-o`` as a file, ``-o`` as a folder, or beside the input."""
    if output is None:
        target = default_output(input_path, scale)
    elif output.is_dir() or str(output).endswith(("/", "\\")):
        target = output / default_output(input_path, scale).name
    else:
        target = output
    if target.resolve() == input_path.resolve():
        raise UpscaleError(f"{target}: refusing to overwrite the input")
    return target


def load_network(model: str, alpha: float | None, psnr_model: str | None,
                 gan_model: str | None):
    """The network the options name: one model, a family member, or a blended pair."""
    from ..loading.blend import load_blended_model
    from ..loading.families import load_family_model
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


def network_scale(network) -> float:
    """The scale a model produces by default (an export may end in its own downscale)."""
    return float(getattr(network, "default_output_scale", None) or network.scale)


def run_command(
    input: Annotated[Path, typer.Argument(help="Image, folder or video to upscale.",
                                          show_default=False)],
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="Output file or folder (default: INPUT_x<scale>.png beside the "
        "input; for a folder, INPUT_x<scale>/ beside it).", show_default=False)] = None,
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
        help="auto (fp16 on CUDA, fp32 on CPU), fp32, fp16 or bf16.")] = "auto",
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
        help="Video: continue an interrupted run from its last finished segment.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress or notes.")] = False,
    ray: Annotated[str | None, typer.Option(
        "--ray", help="Folders and videos: run on Ray: local, auto (the running cluster) or "
        "ray://HOST:PORT. Needs pip install \"upscale[ray]\".", show_default=False)] = None,
) -> int:
    """Upscale an image, every image and video of a folder, or a video."""
    started = time.perf_counter()
    if not input.exists():
        raise InputError(f"{input}: no such file or folder")
    if scale is not None and scale <= 0:
        raise UpscaleError(f"-s/--scale must be positive, not {scale:g}")

    def network_loader():
        return load_network(model, alpha, psnr_model, gan_model)

    if ray is not None:
        from ..batch import DEFAULT_NAME_TEMPLATE
        from ..distributed import run_with_ray

        return run_with_ray(
            ray, input, output, load_network=network_loader, scale=scale, device=device,
            precision=precision, tile=tile, tile_pad=tile_pad, quiet=quiet,
            folder_options=dict(recursive=recursive, glob=glob or (), format=format,
                                quality=quality, skip_existing=skip_existing,
                                name_template=name_template or DEFAULT_NAME_TEMPLATE,
                                overwrite=overwrite, dry_run=dry_run),
            video_options=dict(codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt,
                               resume=resume, overwrite=overwrite))

    if input.is_dir():
        from ..batch import DEFAULT_NAME_TEMPLATE, upscale_folder

        return upscale_folder(
            input, output, load_network=network_loader, scale=scale, device=device,
            precision=precision, recursive=recursive, glob=glob or (), format=format,
            quality=quality, name_template=name_template or DEFAULT_NAME_TEMPLATE,
            skip_existing=skip_existing, overwrite=overwrite, dry_run=dry_run, tile=tile,
            tile_pad=tile_pad, quiet=quiet,
        )

    from ..run import prepare_network
    from .video import is_video, upscale_video_file

    if is_video(input):
        network = network_loader()
        prepared = prepare_network(network, device=device, precision=precision)
        upscale_video_file(input, output, prepared=prepared, scale=scale or network_scale(network),
                           tile=tile, tile_pad=tile_pad, codec=codec, crf=crf, preset=preset,
                           pix_fmt=pix_fmt, resume=resume, overwrite=overwrite, quiet=quiet)
        return 0

    from ..imaging import read_image, write_image
    from ..imaging.metadata import read_metadata
    from ..pipeline import upscale_image

    image = read_image(input)
    network = network_loader()
    scale = scale or network_scale(network)
    target = resolve_output(input, output, scale)
    if target.exists() and not overwrite:
        raise UpscaleError(f"{target}: already exists (use --overwrite to replace it)")
    prepared = prepare_network(network, device=device, precision=precision)
    result = upscale_image(prepared, image, scale=scale, tile=tile, tile_pad=tile_pad,
                           progress=not quiet)
    write_image(target, result, quality=quality, overwrite=overwrite,
                metadata=read_metadata(input))
    if not quiet:
        h, w = result.shape[:2]
        print_note(f"wrote {target} ({w}×{h}) in {time.perf_counter() - started:.1f} s")
    return 0
