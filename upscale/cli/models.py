"""``upscale models``: the registry as a table, and what each model needs to run now."""

from __future__ import annotations

from rich.table import Table

from ..errors import UpscaleError
from ..loading import default_model_name, list_models
from .console import stdout

AVAILABILITY = {
    "packaged": "[green]yes[/green] (packaged)",
    "cached": "[green]yes[/green] (on disk)",
    "download": "[yellow]no[/yellow] (downloads)",
}


def parameter_count(architecture: str, scale: int, hyperparameters: dict) -> int:
    """Parameters of a registry model, from its hyper-parameters (built on the meta device)."""
    import torch

    from ..archs import ARCHITECTURES

    cls = next(arch.NETWORK for arch in ARCHITECTURES if architecture == arch.ARCH_NAME)
    with torch.device("meta"):
        network = cls(scale=scale, **hyperparameters)
    return sum(p.numel() for p in network.parameters())


def models_command() -> None:
    """List the known models and where they come from."""
    from ..loading import availability

    default = default_model_name()
    table = Table(title="upscale models", title_justify="left")
    for column in ("name", "architecture", "scale", "params", "size (fp32)", "licence",
                   "offline", "sources"):
        table.add_column(column, justify="right" if column in ("scale", "params") else "left",
                         no_wrap=column in ("name", "architecture", "scale", "params"))
    for entry in list_models():
        count = parameter_count(entry.architecture, entry.scale, entry.hyperparameters)
        name = f"[bold]{entry.name}[/bold] (default)" if entry.name == default else entry.name
        sources = ", ".join(dict.fromkeys(s.kind for s in entry.sources))
        table.add_row(name, entry.architecture, f"×{entry.scale}", f"{count / 1e6:.2f} M",
                      f"{count * 4 / 1e6:.1f} MB",  # fp32: the loaded network's size
                      entry.licence, AVAILABILITY[availability(entry)], sources)
    stdout.print(table)
    stdout.print("Use one with [bold]-m NAME[/bold]; any .pth/.safetensors/ncnn file works with "
                 "-m PATH, and files in weights/ by their stem.", highlight=False)
    stdout.print(loadable_architectures(), highlight=False, markup=False)


def loadable_architectures() -> str:
    """Which architectures a checkpoint file may have, here: ours, and spandrel's if installed."""
    from ..archs import spandrel

    ours = "RRDBNet (ESRGAN, Real-ESRGAN) and SRVGGNetCompact, with our fast CPU kernels"
    try:
        names = spandrel.architecture_names()
    except UpscaleError as error:  # installed, but its torchvision does not match torch
        return f"Architectures: {ours}; {error}"
    if not names:
        return (f"Architectures: {ours}. {spandrel.INSTALL_HINT} adds SPAN, DAT, HAT, SwinIR, "
                "OmniSR, RealPLKSR, RealCUGAN, Swin2SR and the rest of spandrel's.")
    listed = f"Architectures: {ours}; through spandrel: {', '.join(names)}."
    if not spandrel.extra_arches_installed():
        listed += (f" {spandrel.EXTRA_INSTALL_HINT} adds SRFormer, CodeFormer, Restormer, DDColor "
                   "and more, whose code is licensed for non-commercial use only.")
    return listed
