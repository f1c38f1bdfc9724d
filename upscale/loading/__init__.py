"""Weights: from a spec (name, path, URL, hf://, weights/ stem) to an eval-mode network.

``load_model(spec)`` is the one call most code needs. ``resolve_weights`` and
``load_state_dict`` expose the two halves (find the file; read its tensors) for
code that works on weights directly, such as network blending.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from .registry import ModelEntry, default_model_name, find_model, list_models

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .sources import Resolved

# The registry is read without torch (the CLI names outputs from it before any model
# loads); everything that reads tensors imports torch when first used.
_LAZY = {"Resolved": ".sources", "availability": ".sources", "weights_dirs": ".sources"}

DEFAULT_MODEL = "realesrgan-x4plus"

Spec = str | os.PathLike


def resolve_weights(spec: Spec = DEFAULT_MODEL, *, offline: bool | None = None) -> Resolved:
    """The local file behind a spec (``.path``), its display name and registry entry."""
    from .sources import resolve

    return resolve(spec, offline=offline)


def _read(resolved: Resolved) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from .formats import read_checkpoint

    state, metadata = read_checkpoint(resolved.path)
    metadata = {"source": resolved.display, **metadata}
    entry = resolved.entry
    if entry is not None:
        metadata.setdefault("model", entry.name)
        if entry.act_type and "act_type" not in metadata:
            metadata["act_type"] = entry.act_type
    return state, metadata


def load_state_dict(spec: Spec = DEFAULT_MODEL, *, offline: bool | None = None
                    ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors of a spec's checkpoint (training wrappers removed) and its metadata.

    Metadata always has ``source`` (display name) and ``format``; safetensors
    metadata (e.g. ``act_type``) and ncnn facts (``ncnn_output_resize``) are kept.
    """
    return _read(resolve_weights(spec, offline=offline))


def load_model(spec: Spec = DEFAULT_MODEL, *, offline: bool | None = None) -> nn.Module:
    """An eval-mode network holding the weights a spec names; architecture from the tensors.

    The network gets ``source_name`` (for display), ``source_path`` and ``weights_metadata``.
    An ncnn export that ends in a downscale (realesr-animevideov3's x2/x3 files) also
    gets ``default_output_scale``: the scale that export produced.
    """
    from ..archs import build_network

    resolved = resolve_weights(spec, offline=offline)
    state, metadata = _read(resolved)
    network = build_network(state, act_type=metadata.get("act_type"), source=resolved.display)
    network.source_name = resolved.display
    network.source_path = resolved.path
    network.weights_metadata = metadata
    if "ncnn_output_resize" in metadata:
        network.default_output_scale = network.scale * float(metadata["ncnn_output_resize"])
    return network


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_MODEL", "ModelEntry", "Resolved", "availability", "default_model_name",
    "find_model", "list_models", "load_model", "load_state_dict", "resolve_weights",
    "weights_dirs",
]
