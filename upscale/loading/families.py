"""Model families: a PSNR-oriented network and the GAN network fine-tuned from it.

``--alpha`` needs to know which two registry models form a pair; the pairing
is a fact about how they were trained (the GAN member started from the PSNR
member's weights), so it lives here rather than being guessed from names.
Without ``--alpha`` a name is plainly that network (the default model is a GAN member).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UpscaleError
from .registry import find_model, list_models

if TYPE_CHECKING:
    from ..model import ModelDescriptor


@dataclass(frozen=True)
class Family:
    """Registry names of a family's members; α = 0 is ``psnr``, α = 1 is ``gan``."""

    name: str
    psnr: str
    gan: str

    @property
    def members(self) -> tuple[str, str]:
        return self.psnr, self.gan


def families() -> dict[str, Family]:
    """Every family the registry declares, named after its GAN member (the default one).

    The manifest marks a GAN entry with ``family: {role: gan, psnr: NAME}``:
    realesrgan-x4plus pairs RealESRNet_x4plus with RealESRGAN_x4plus, and
    realesr-general-x4v3 pairs the weak-denoise wdn network with the full one
    (Real-ESRGAN's denoise strength is this α).
    """

    found: dict[str, Family] = {}
    for entry in list_models():
        if entry.family.get("role") == "gan" and entry.psnr_member:
            found[entry.name] = Family(name=entry.name, psnr=entry.psnr_member,
                                       gan=entry.name)
    return found


def family_of(name: str) -> Family | None:
    """The family a registry name or alias belongs to, by its own name or a member's."""

    entry = find_model(name)
    if entry is None:
        return None
    return next((f for f in families().values() if entry.name in (f.name, *f.members)), None)


def load_family_model(name: str | os.PathLike, alpha: float | None = None, *,
                      offline: bool | None = None) -> ModelDescriptor:
    """The network for ``--model NAME [--alpha α]``.

    Without α: plainly the model named (a family's PSNR member is that member, not
    the family's GAN default). With α: the blend (1−α)·PSNR + α·GAN of the pair.
    """
    from . import load_model  # the package imports this module's names lazily
    from .interpolation import (  # imports torch: only once a model loads
        check_alpha,
        load_blended_model,
    )

    family = family_of(os.fspath(name))
    if family is not None and Path(os.fspath(name)).expanduser().is_file():
        family = None  # a file that happens to share a model's name is that file
    if alpha is None:
        return load_model(name, offline=offline)
    check_alpha(alpha)
    if family is None:
        known = ", ".join(families())
        raise UpscaleError(
            f"{os.fspath(name)}: --alpha needs a model family with a PSNR and a GAN member "
            f"({known}); for any other pair give --psnr-model A --gan-model B"
        )
    return load_blended_model(family.psnr, family.gan, alpha, offline=offline)
