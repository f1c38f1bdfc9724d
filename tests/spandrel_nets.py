"""Tiny random-weight networks of spandrel's architectures, built with spandrel's own classes.

Each is a few thousand to a few hundred thousand parameters, small enough to run on a
40-pixel image in well under a second; the layouts are those of the released models.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def _builders() -> dict[str, Callable[[], nn.Module]]:
    from spandrel.architectures.DAT import DAT
    from spandrel.architectures.HAT import HAT
    from spandrel.architectures.OmniSR import OmniSR
    from spandrel.architectures.PLKSR import RealPLKSR
    from spandrel.architectures.RealCUGAN import UpCunet2x
    from spandrel.architectures.SPAN import SPAN
    from spandrel.architectures.Swin2SR import Swin2SR
    from spandrel.architectures.SwinIR import SwinIR

    swin = dict(embed_dim=12, depths=[1], num_heads=[2], window_size=4, upscale=2,
                img_size=16, mlp_ratio=2.0)
    return {
        "SPAN": lambda: SPAN(num_in_ch=3, num_out_ch=3, feature_channels=16, upscale=2),
        "DAT": lambda: DAT(embed_dim=32, split_size=[2, 4], depth=[1], num_heads=[2],
                           expansion_factor=2.0, upscale=2, img_size=16),
        "HAT": lambda: HAT(**swin, compress_ratio=3, squeeze_factor=4, num_feat=16),
        "SwinIR": lambda: SwinIR(**swin, upsampler="pixelshuffledirect"),
        "OmniSR": lambda: OmniSR(num_feat=16, block_num=1, window_size=4, res_num=1,
                                 up_scale=2),
        "RealPLKSR": lambda: RealPLKSR(dim=16, n_blocks=2, upscaling_factor=2, kernel_size=7,
                                       norm_groups=4),
        "RealCUGAN": lambda: UpCunet2x(),
        "Swin2SR": lambda: Swin2SR(**swin, upsampler="pixelshuffledirect"),
    }


ARCHITECTURES = ("SPAN", "DAT", "HAT", "SwinIR", "OmniSR", "RealPLKSR", "RealCUGAN", "Swin2SR")
SCALE = 2


def tiny(name: str, seed: int = 0) -> nn.Module:
    """A ×2 network of architecture ``name`` with random weights (seeded)."""
    torch.manual_seed(seed)
    return _builders()[name]().eval()


def tiny_srformer(seed: int = 0) -> nn.Module:
    """A ×2 SRFormer (spandrel-extra-arches, non-commercial licence) with random weights."""
    from spandrel_extra_arches.architectures.SRFormer import SRFormer

    torch.manual_seed(seed)
    return SRFormer(embed_dim=12, depths=[1], num_heads=[2], window_size=4, upscale=2,
                    img_size=16, mlp_ratio=2.0, upsampler="pixelshuffledirect").eval()


def spandrel_call(state: dict[str, torch.Tensor], image: torch.Tensor) -> torch.Tensor:
    """What spandrel's own model call gives for ``image`` (1×C×H×W in [0, 1])."""
    from spandrel import ModelLoader

    return ModelLoader().load_from_state_dict(state)(image)
