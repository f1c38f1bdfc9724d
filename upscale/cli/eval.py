"""``upscale eval DATASET``: PSNR/SSIM of a model or classical method, as SR papers measure them."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .. import loading
from ..errors import UpscaleError
from ..loading import DEFAULT_MODEL
from ..outputs import check_writable_folder
from ..request import NetworkChoice
from .console import print_note
from .console import stdout as results_console


class Method(str, Enum):
    bicubic = "bicubic"
    lanczos = "lanczos"
    nearest = "nearest"


class Degradation(str, Enum):
    bicubic = "bicubic"
    realesrgan = "realesrgan"


def eval_command(
    dataset_dir: Annotated[Path, typer.Argument(
        help="Folder of high-resolution images (e.g. Set5).", show_default=False)],
    scale: Annotated[int, typer.Option("-s", "--scale", min=1,
                                       help="Scale factor to degrade by and upscale back.")] = 4,
    model: Annotated[str | None, typer.Option(
        "-m", "--model", help="Network to evaluate: registry name, path, URL or hf://... "
        f"(default: {DEFAULT_MODEL}, unless --method is given).", show_default=False)] = None,
    method: Annotated[Method | None, typer.Option(
        help="Evaluate a classical MATLAB-imresize method instead of a network.",
        show_default=False)] = None,
    alpha: Annotated[float | None, typer.Option(
        help="Blend the model family's PSNR and GAN networks (0 = PSNR, 1 = GAN).",
        show_default=False)] = None,
    psnr_model: Annotated[str | None, typer.Option(
        help="PSNR end of a custom --alpha pair.", show_default=False)] = None,
    gan_model: Annotated[str | None, typer.Option(
        help="GAN end of a custom --alpha pair.", show_default=False)] = None,
    degradation: Annotated[Degradation, typer.Option(
        help="How HR becomes LR: MATLAB bicubic (the benchmarks) or Real-ESRGAN's "
        "two-stage blur/resize/noise/JPEG.")] = Degradation.bicubic,
    seed: Annotated[int, typer.Option(help="Seed for --degradation realesrgan.")] = 0,
    json_path: Annotated[Path | None, typer.Option(
        "--json", help="Also write the results as JSON here.", show_default=False)] = None,
    save_dir: Annotated[Path | None, typer.Option(
        "--save", help="Keep the LR and SR images in this folder (lr/, sr/).",
        show_default=False)] = None,
    compare: Annotated[bool, typer.Option(
        help="With --save: write LR | SR | HR centre crops side by side (compare/).")] = False,
    tile: Annotated[int, typer.Option(help="Tile size in input pixels; 0 picks one that "
                                      "fits in memory.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = "auto",
    precision: Annotated[str, typer.Option(
        help="auto (fp16 on CUDA, fp32 on CPU), fp32, fp16 or bf16.")] = "auto",
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No per-image progress notes.")]
    = False,
) -> None:
    """Degrade each HR image, upscale it back, and report Y-channel PSNR/SSIM (border = scale)."""
    if model is not None and method is not None:
        raise UpscaleError("give either -m/--model or --method, not both")
    if method is not None and (alpha is not None or psnr_model or gan_model):
        raise UpscaleError("--alpha blends networks; it does not apply to --method")
    network = NetworkChoice(model or DEFAULT_MODEL, alpha, psnr_model, gan_model)
    network.check()  # the same rules, and words, as a run's
    if compare and save_dir is None:
        raise UpscaleError("--compare writes into the --save folder; give --save DIR too")

    if json_path is not None:  # before the work: a report that cannot be written is lost
        check_writable_folder(json_path.parent, str(json_path))
    from ..eval import protocol
    from ..eval.results import format_psnr, print_report, write_json

    images = protocol.dataset_images(dataset_dir)
    if method is not None:
        label = method.value
        upscaler = protocol.classical_upscaler(method.value)
    else:
        label = network.label()
        upscaler = protocol.upscaler_for_network(loading.load_choice(network), device=device,
                                                 precision=precision, tile=tile)

    def note(score: protocol.ImageScore) -> None:
        if not quiet:
            print_note(f"{score.name}: {format_psnr(score.psnr)} dB, SSIM {score.ssim:.4f} "
                       f"({score.seconds:.1f} s)")

    report = protocol.evaluate(images, scale, upscaler, method=label,
                               degradation=degradation.value, seed=seed, save_dir=save_dir,
                               compare=compare, dataset=dataset_dir.name, on_image=note)
    print_report(report, results_console)
    if json_path is not None:
        write_json(report, json_path)
        if not quiet:
            print_note(f"wrote {json_path}")
