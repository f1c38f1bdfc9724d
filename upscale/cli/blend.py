"""``upscale blend A B --alpha 0.8 -o blended.safetensors``: write an interpolated network."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from ..errors import UpscaleError
from ..outputs import refuse_existing
from .console import print_note


@contextmanager
def lineage_warnings_as_notes() -> Iterator[None]:
    """Show the library's LineageWarning as an ``upscale: warning:`` line, once each."""
    from ..loading.interpolation import LineageWarning  # lazy: the CLI starts without torch

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LineageWarning)
        yield
    for warning in caught:
        if issubclass(warning.category, LineageWarning):
            print_note(f"warning: {warning.message}")
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)


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
    from ..loading import load_state_dict  # lazy: the CLI starts without torch
    from ..loading.interpolation import (
        blend_metadata,
        blend_state_dicts,
        check_alpha,
        weights_sha256,
        write_blend,
    )

    alpha = check_alpha(alpha)
    if output.suffix.lower() != ".safetensors":
        raise UpscaleError(f"{output}: the blended checkpoint is written as .safetensors; "
                           "give a name ending in .safetensors")
    refuse_existing(output, overwrite)

    psnr_state, psnr_meta = load_state_dict(a)
    gan_state, gan_meta = load_state_dict(b)
    with lineage_warnings_as_notes():
        blend = blend_state_dicts(psnr_state, gan_state, alpha, psnr_name=a, gan_name=b,
                                  act_type=psnr_meta.get("act_type") or gan_meta.get("act_type"))
    metadata = blend_metadata(blend, psnr_sha256=weights_sha256(psnr_state),
                              gan_sha256=weights_sha256(gan_state),
                              psnr_source=psnr_meta.get("source", a),
                              gan_source=gan_meta.get("source", b))
    write_blend(output, blend, metadata)
    print_note(f"wrote {output}: {1 - alpha:g} × {a} + {alpha:g} × {b} "
               f"(the two are {blend.distance:.3f} apart)")
