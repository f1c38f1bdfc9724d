"""Model families: a PSNR network and the GAN network fine-tuned from it, which ``--alpha``
blends; the pairing is a fact of training, declared in the manifest, not guessed from names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .registry import find_model, list_models


@dataclass(frozen=True)
class Family:
    """Registry names of a family's members; α = 0 is ``psnr``, α = 1 is ``gan``."""

    psnr: str
    gan: str


def families() -> dict[str, Family]:
    """Every family the registry declares, named after its GAN member (the default one)."""
    return {entry.name: Family(psnr=entry.psnr_member, gan=entry.name) for entry in list_models()
            if entry.family.get("role") == "gan" and entry.psnr_member}


def family_of(name: str) -> Family | None:
    """The family a registry name or alias belongs to, by its own name or a member's (a file
    that happens to share a model's name is that file)."""
    entry = None if Path(name).expanduser().is_file() else find_model(name)
    if entry is None:
        return None
    return next((f for f in families().values() if entry.name in (f.psnr, f.gan)), None)
