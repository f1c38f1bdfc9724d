"""A checkpoint file to (tensors, metadata). Pickles go through ``torch.load(weights_only=True)``
only: checkpoints come from strangers, and the restricted unpickler refuses anything but
tensors and plain containers before any of it runs."""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from ..errors import UnsupportedModelError
from .ncnn import load_ncnn

TORCH_SUFFIXES = (".pth", ".pt", ".ckpt")
WEIGHT_SUFFIXES = (*TORCH_SUFFIXES, ".safetensors", ".param", ".onnx")
# Wrappers that training code puts around the generator's state dict, in order of preference:
# BasicSR saves the EMA weights (the ones meant for inference) beside the raw ones.
WRAPPER_KEYS = ("params_ema", "params-ema", "params", "state_dict", "model", "generator", "netG",
                "net", "net_g")
ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format since PyTorch 1.6
PICKLE_PROTOCOL_MARK = 0x80  # the first byte of any pickle of protocol 2 or newer

StateDict = dict[str, torch.Tensor]


def unwrap(obj: object, source: str) -> StateDict:
    """The flat tensor mapping inside a loaded checkpoint object."""
    for _ in range(3):  # wrappers can nest (e.g. {"state_dict": {"params_ema": ...}})
        if not isinstance(obj, Mapping):
            break
        inner = next((obj[k] for k in WRAPPER_KEYS
                      if isinstance(obj.get(k), Mapping) and obj[k]), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping):
        raise UnsupportedModelError(
            f"{source}: holds a {type(obj).__name__}, not a mapping of names to tensors")
    return {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def load_torch(path: Path) -> StateDict:
    """A ``.pth``/``.pt`` file through the weights-only unpickler."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
        if not (head.startswith(ZIP_MAGIC) or (len(head) > 1 and head[0] == PICKLE_PROTOCOL_MARK)):
            raise UnsupportedModelError(f"{path}: not a PyTorch checkpoint (neither the zip "
                                        "archive nor the pickle that torch.save writes)")
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        refused = next((line.strip() for line in str(exc).splitlines() if "GLOBAL" in line), None)
        if refused is None:
            raise UnsupportedModelError(
                f"{path}: not a readable PyTorch checkpoint (damaged pickle data)") from exc
        raise UnsupportedModelError(
            f"{path}: refused: the checkpoint contains pickled Python objects beyond tensors, "
            f"which could run code when loaded ({refused[:160]}); convert it to .safetensors "
            "with a trusted tool"
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsupportedModelError(
            f"{path}: not a readable PyTorch checkpoint ({first[:160]})") from exc
    return unwrap(obj, str(path))


def load_safetensors(path: Path) -> tuple[StateDict, dict[str, str]]:
    """Tensors and the free-form metadata (e.g. ``act_type``) of a .safetensors file."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            state = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise UnsupportedModelError(f"{path}: not a readable .safetensors file ({exc})") from exc
    return unwrap(state, str(path)), metadata


def read_checkpoint(path: Path) -> tuple[StateDict, dict[str, str]]:
    """Tensors and metadata of a weight file, by its suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in TORCH_SUFFIXES:
        return load_torch(path), {"format": "torch"}
    if suffix == ".safetensors":
        state, metadata = load_safetensors(path)
        return state, {"format": "safetensors", **metadata}
    if suffix in (".param", ".bin") and path.with_suffix(".param").is_file():
        return load_ncnn(path.with_suffix(".param"), path.with_suffix(".bin"))
    if suffix == ".onnx":  # only load_model runs a graph; its tensors are not a state dict
        raise UnsupportedModelError(f"{path}: an ONNX graph runs as it is; its weights cannot "
                                    "be read or blended (--alpha needs .pth or .safetensors)")
    raise UnsupportedModelError(
        f"{path}: unknown weight format {suffix or '(no suffix)'}; "
        f"expected one of {', '.join(WEIGHT_SUFFIXES)} (ncnn: .param beside its .bin)")
