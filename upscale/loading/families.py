"""Model families: a PSNR-oriented network and the GAN network fine-tuned from it.

``--alpha`` needs to know which two registry models form a pair; the pairing
is a fact about how they were trained (the GAN member started from the PSNR
member's weights), so it lives here rather than being guessed from names.
Without ``--alpha`` a name is plainly that network (the default model is a GAN member).
``upscale.request.NetworkChoice`` checks and loads what the options name.
"""

from __future__ import annotations

from dataclasses import dataclass

from .registry import find_model, list_models


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
