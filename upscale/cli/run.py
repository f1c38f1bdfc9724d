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


def run_command(
    input: Annotated[Path, typer.Argument(help="Image, folder or video to upscale.",
                                          show_default=False)],
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="Output file or folder [default: INPUT_x<scale>.png beside it].",
        show_default=False)] = None,
    scale: Annotated[float | None, typer.Option(
        "-s", "--scale", help="Output scale; may differ from the network's (e.g. 2 or 3.5 "
        "with a x4 network) [default: the network's scale].", show_default=False)] = None,
    model: Annotated[str, typer.Option(
        "-m", "--model", help="Registry name, file path, URL, or hf://owner/repo/file "
        "(see `upscale models`).")] = DEFAULT_MODEL,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = "auto",
    precision: Annotated[str, typer.Option(
        help="auto (fp16 on CUDA, fp32 on CPU), fp32, fp16 or bf16.")] = "auto",
    tile: Annotated[int, typer.Option(help="Tile size in input pixels; 0 picks one that "
                                      "fits in memory.")] = 0,
    tile_pad: Annotated[int | None, typer.Option(
        help="Context pixels around each tile [default: enough for seamless tiles].",
        show_default=False)] = None,
    quality: Annotated[int | None, typer.Option(
        help="JPEG/WebP quality, 1-100.", min=1, max=100, show_default=False)] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress or notes.")] = False,
) -> None:
    """Upscale one image file."""
    started = time.perf_counter()
    if not input.exists():
        raise InputError(f"{input}: no such file or folder")
    if input.is_dir():
        raise InputError(f"{input}: is a folder; folder input is not supported yet")
    if scale is not None and scale <= 0:
        raise UpscaleError(f"-s/--scale must be positive, not {scale:g}")

    from ..imaging import read_image, write_image
    from ..loading import load_model
    from ..pipeline import upscale_image
    from ..run import prepare_network

    image = read_image(input)
    network = load_model(model)
    scale = scale or float(network.scale)
    target = resolve_output(input, output, scale)
    if target.exists() and not overwrite:
        raise UpscaleError(f"{target}: already exists (use --overwrite to replace it)")
    prepared = prepare_network(network, device=device, precision=precision)
    result = upscale_image(prepared, image, scale=scale, tile=tile, tile_pad=tile_pad,
                           progress=not quiet)
    write_image(target, result, quality=quality, overwrite=overwrite)
    if not quiet:
        h, w = result.shape[:2]
        print_note(f"wrote {target} ({w}×{h}) in {time.perf_counter() - started:.1f} s")
