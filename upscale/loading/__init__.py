"""Weights: from a spec (name, path, URL, hf://, weights/ stem) to an eval-mode network.
``resolve_weights`` and ``load_state_dict`` are its two halves (find the file; read its
tensors), for code that works on weights directly, such as blending."""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

from ..lazy import lazy_exports
from .families import family_of
from .registry import ModelEntry, default_model_name, find_model, list_models

if TYPE_CHECKING:
    import torch

    from ..model import ModelDescriptor
    from ..request import NetworkChoice
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
    if resolved.entry is not None:
        metadata.setdefault("model", resolved.entry.name)
        if resolved.entry.act_type and "act_type" not in metadata:
            metadata["act_type"] = resolved.entry.act_type
    return state, metadata


def load_state_dict(spec: Spec = DEFAULT_MODEL, *, offline: bool | None = None
                    ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors of a spec's checkpoint (training wrappers removed) and its metadata
    (always ``source`` and ``format``, plus the file's own, e.g. ``act_type``)."""
    return _read(resolve_weights(spec, offline=offline))


def load_model(spec: Spec = DEFAULT_MODEL, *, offline: bool | None = None) -> ModelDescriptor:
    """The eval-mode network a spec names, its architecture read from the tensors; an ncnn
    export ending in a downscale (realesr-animevideov3 x2/x3) has that ``output_scale``."""
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


def load_choice(choice: NetworkChoice) -> ModelDescriptor:
    """The network a request names: one model (a family's PSNR member too), or a pair blended
    at α, given or its family's (a blend warns, as LineageWarning, of an unrelated pair)."""
    if choice.alpha is None:
        return load_model(choice.model)
    from .interpolation import load_blended_model

    family = None if choice.psnr_model else family_of(choice.model)
    if family is None and not (choice.psnr_model and choice.gan_model):
        choice.check()  # a choice no request checked: the check's own words
    psnr, gan = (family.psnr, family.gan) if family else (choice.psnr_model, choice.gan_model)
    return load_blended_model(psnr, gan, choice.alpha)


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = ["DEFAULT_MODEL", "ModelEntry", "Resolved", "availability", "default_model_name",
           "find_model", "list_models", "load_choice", "load_model", "load_state_dict",
           "resolve_weights", "weights_dirs"]
