"""Weights: from a spec (name, path, URL, hf://, weights/ stem) to an eval-mode network.

``load_model(spec)`` is the one call most code needs: it returns the
:class:`~upscale.model.ModelDescriptor` every other layer reads a network's facts
from. ``resolve_weights`` and ``load_state_dict`` expose the two halves (find
the file; read its tensors) for code that works on weights directly, such as
network blending.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

from ..lazy import lazy_exports
from .registry import ModelEntry, default_model_name, find_model, list_models

if TYPE_CHECKING:
    import torch

    from ..model import ModelDescriptor
    from .sources import Resolved

# The registry is read without torch (the CLI names outputs from it before any model
# loads); everything that reads tensors imports torch when first used.
_LAZY = {"Resolved": ".sources", "availability": ".sources", "weights_dirs": ".sources"}

DEFAULT_MODEL = default_model_name()  # models.json says which

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


def load_model(spec: Spec = DEFAULT_MODEL, *, offline: bool | None = None) -> ModelDescriptor:
    """The eval-mode network a spec names and its facts; architecture from the tensors.

    The descriptor says where the weights came from (``source``, ``source_path``,
    ``metadata``). An ncnn export that ends in a downscale (realesr-animevideov3's
    x2/x3 files) has the ``output_scale`` that export produced.
    """
    from ..archs import build_model

    resolved = resolve_weights(spec, offline=offline)
    if resolved.path.suffix.lower() == ".onnx":
        from .onnx import load_onnx

        return dataclasses.replace(load_onnx(resolved.path), source=resolved.display,
                                   source_path=resolved.path,
                                   metadata={"source": resolved.display, "format": "onnx"})
    state, metadata = _read(resolved)
    model = build_model(state, hints=metadata, source=resolved.display)
    output_scale = model.scale * float(metadata.get("ncnn_output_resize", 1))
    return dataclasses.replace(model, source=resolved.display, source_path=resolved.path,
                               metadata=metadata, output_scale=output_scale)


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "DEFAULT_MODEL", "ModelEntry", "Resolved", "availability", "default_model_name",
    "find_model", "list_models", "load_model", "load_state_dict", "resolve_weights",
    "weights_dirs",
]
