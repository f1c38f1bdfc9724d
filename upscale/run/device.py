"""Which device runs the network: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

A device the user names but this machine lacks is an error the user can fix
(wrong index, no CUDA build), so it is reported in one line rather than left
for PyTorch to fail on later with a less helpful message.
"""

from __future__ import annotations

import torch

from ..errors import UpscaleError

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N or mps"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """Turn a user's device name into a usable ``torch.device`` (auto: CUDA, then MPS, then CPU)."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    name = (spec or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise UpscaleError("device mps: Apple Metal (MPS) is not available on this machine; "
                               "use --device cpu")
        return torch.device("mps")
    if name == "cuda" or name.startswith("cuda:"):
        index_text = name.partition(":")[2] or None
        if index_text is not None and not index_text.isdigit():
            raise UpscaleError(f"device {spec}: the CUDA index must be a number, e.g. cuda:0")
        if not torch.cuda.is_available():
            why = ("this PyTorch build has no CUDA support" if torch.version.cuda is None
                   else "no CUDA GPU is visible")
            raise UpscaleError(f"device {spec}: {why}; use --device cpu")
        count = torch.cuda.device_count()
        index = int(index_text) if index_text is not None else torch.cuda.current_device()
        if index >= count:
            raise UpscaleError(f"device {spec}: only {count} CUDA GPU(s) here "
                               f"(cuda:0 to cuda:{count - 1})")
        return torch.device("cuda", index)
    raise UpscaleError(f"unknown device {spec!r}; use {DEVICE_CHOICES}")
