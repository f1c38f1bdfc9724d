"""upscale: make images and videos larger and sharper with ESRGAN-family networks.

``upscale_file(prepare_network(load_model("realesrgan-x4plus")), "photo.jpg", "big.png")``;
names are imported on first use, so ``import upscale`` does not import torch.
"""

from __future__ import annotations

from .lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "read_image": "upscale.imaging",
    "write_image": "upscale.imaging",
    "load_model": "upscale.loading",
    "load_state_dict": "upscale.loading",
    "build_model": "upscale.archs",
    "ModelDescriptor": "upscale.model",
    "prepare_network": "upscale.run",
    "run_network": "upscale.run",
    "upscale_image": "upscale.pipeline",
    "upscale_file": "upscale.files",
    "UpscaleError": "upscale.errors",
}

__all__ = [*_EXPORTS, "__version__"]
__getattr__ = lazy_exports(__name__, _EXPORTS)
