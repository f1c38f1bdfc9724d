"""Which device runs the network: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``; one that
is missing or unusable is one line the user can act on, not a later PyTorch failure."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

import torch

from ..errors import UpscaleError
from ..notes import note

if TYPE_CHECKING:
    from ..model import ModelDescriptor

_ARCH = re.compile(r"^(sm|compute)_(\d+)(\d)([a-z]?)$")  # sm_86, sm_90a, compute_120


def _has_kernels_for(arch_list: list[str], capability: tuple[int, int]) -> bool:
    """Whether a torch built for ``arch_list`` (cubins, PTX) runs on a card of ``capability``."""
    for arch in arch_list:
        if (match := _ARCH.match(arch)) is None:
            continue
        kind, built = match.group(1), (int(match.group(2)), int(match.group(3)))
        if match.group(4):
            usable = built == capability
        elif kind == "compute":
            usable = built <= capability
        else:
            usable = built[0] == capability[0] and built[1] <= capability[1]
        if usable:
            return True
    return False


@functools.cache
def cuda_unusable(index: int) -> str | None:
    """Why CUDA card ``index`` cannot run this torch's networks (None: it can); probed once."""
    try:
        name = torch.cuda.get_device_name(index)
        capability = tuple(torch.cuda.get_device_capability(index))
        arch_list = torch.cuda.get_arch_list()
        if not torch.version.hip and arch_list and not _has_kernels_for(arch_list, capability):
            return (f"{name} (compute capability {capability[0]}.{capability[1]}) is not "
                    f"supported by this PyTorch build, which has kernels for "
                    f"{' '.join(arch_list)}; install a PyTorch build for this card")
        probe = torch.ones(8, device=torch.device("cuda", index))
        if float((probe * 2).sum()) != 16.0:
            return f"{name} computed a wrong result in a first test"
    except Exception as error:  # noqa: BLE001 - any failure here means the card is unusable
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return f"the card cannot be used ({first_line})"
    return None


def _mps_available() -> bool:
    return torch.backends.mps.is_available()


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """Turn a user's device name into a usable ``torch.device`` (auto: CUDA, then MPS, then CPU)."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    name = (spec or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            index = torch.cuda.current_device()
            reason = cuda_unusable(index)
            if reason is None:
                return torch.device("cuda", index)
            note(f"cuda:{index}: {reason}; running on the CPU instead")
            return torch.device("cpu")
        return torch.device("mps" if _mps_available() else "cpu")
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
        reason = cuda_unusable(index)
        if reason is not None:
            raise UpscaleError(f"device {spec}: {reason}; use --device cpu")
        return torch.device("cuda", index)
    raise UpscaleError(f"unknown device {spec!r}; use auto, cpu, cuda, cuda:N or mps")


def device_for(model: ModelDescriptor, spec: str | torch.device | None = "auto") -> torch.device:
    """:func:`resolve_device`, where a CPU-only network (an ONNX graph) refuses a GPU named."""
    if not model.cpu_only:
        return resolve_device(spec)
    name = str(spec or "auto").strip().lower()
    if name == "cpu":
        return torch.device("cpu")
    if name != "auto":
        raise UpscaleError(f"{model.source}: an {model.architecture} graph runs on the CPU "
                           f"(OpenVINO), not on {spec}; use --device cpu, or the model's "
                           ".pth or .safetensors to run it on a GPU")
    if torch.cuda.is_available() or _mps_available():
        note(f"{model.source}: an {model.architecture} graph runs on the CPU (OpenVINO), "
             "not on the GPU; the model's .pth or .safetensors runs on the GPU")
    return torch.device("cpu")
