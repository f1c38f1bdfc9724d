"""``upscale blend A B --alpha 0.8 -o blended.safetensors``: write an interpolated network."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import UpscaleError
from ..outputs import check_destination, refuse_existing
from .console import print_note


def blend_command(
    a: Annotated[str, typer.Argument(
        metavar="A", help="The PSNR-oriented network (α = 0): registry name, file, URL or hf://owner/repo/file.",
        show_default=False)],
    b: Annotated[str, typer.Argument(
        metavar="B", help="The GAN network (α = 1), fine-tuned from A; same architecture "
        "and shapes.",
        show_default=False)],
    alpha: Annotated[float, typer.Option(
        "--alpha", "-a", help="Weight of B, from 0 (A alone) to 1 (B alone); ESRGAN's "
        "favourite is 0.8.", show_default=False)],
    output: Annotated[Path, typer.Option(
        "-o", "--output", help="The blended checkpoint to write (.safetensors).",
        show_default=False)],
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output.")] = False,
) -> None:
    """Blend two networks' weights, θ = (1−α)·θ_A + α·θ_B, into one checkpoint."""
    from ..loading.interpolation import blend_checkpoints, write_blend

    if output.suffix.lower() != ".safetensors":
        raise UpscaleError(f"{output}: the blended checkpoint is written as .safetensors; "
                           "give a name ending in .safetensors")
    check_destination(output)
    refuse_existing(output, overwrite)
    blend, metadata = blend_checkpoints(a, b, alpha)  # an unrelated pair: a warning line
    write_blend(output, blend, metadata)  # an existing one was refused above, or replaced
    print_note(f"wrote {output}: {1 - alpha:g} × {a} + {alpha:g} × {b} "
               f"(the two are {blend.distance:.3f} apart)")
