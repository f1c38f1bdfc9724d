"""ESRGAN network interpolation: θ = (1−α)·θ_PSNR + α·θ_GAN, once, in weight space. Only a
network and its own fine-tune blend well (unrelated ones of the same shapes blend into
nonsense), so a pair that does not look related is warned about. Blends are cached."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file

from ..archs import build_model
from ..errors import UpscaleError
from ..limits import check_alpha
from ..model import ModelDescriptor, weights_sha256
from ..notes import Caution
from ..outputs import write_atomically
from . import load_state_dict
from .cache import cache_root
from .formats import load_safetensors

# ‖θ_A − θ_B‖ / ‖θ_A‖ above which a pair does not look like a network and its fine-tune.
# Calibrated on real packaged pairs by Y-PSNR at α = 0 … 1 (issue 4's report): pairs that
# blended smoothly were 0.29 to 0.645 apart, pairs whose middle fell below both ends 0.70
# to 1.39; two random initialisations are about 1.41 apart. It sits midway in the gap.
LINEAGE_THRESHOLD = 0.67

Tensors = Mapping[str, torch.Tensor]


class LineageWarning(Caution):
    """The two networks do not look like a network and its fine-tune."""


@dataclass(frozen=True)
class Blend:
    """A blended state dict and what it was made from."""

    state: dict[str, torch.Tensor]
    alpha: float
    distance: float
    act_type: str | None = None


def _hints(act_type: str | None) -> dict[str, str]:
    return {"act_type": act_type} if act_type else {}


def canonical_state(state: Tensors, *, source: str,
                    act_type: str | None) -> tuple[dict[str, torch.Tensor], ModelDescriptor]:
    """The tensors under canonical names (so two layouts of one network line up), and the model."""
    model = build_model(state, hints=_hints(act_type), source=source)
    return {k: v.detach() for k, v in model.module.state_dict().items()}, model


def first_difference(a: Tensors, b: Tensors, name_a: str, name_b: str) -> str | None:
    """Describe the first tensor, in A's order, that the two state dicts do not share."""
    for key, tensor in a.items():
        if key not in b:
            return f"{key} {tuple(tensor.shape)} is in {name_a} but not in {name_b}"
        if tensor.shape != b[key].shape:
            return (f"{key} is {tuple(tensor.shape)} in {name_a} "
                    f"but {tuple(b[key].shape)} in {name_b}")
    for key, tensor in b.items():
        if key not in a:
            return f"{key} {tuple(tensor.shape)} is in {name_b} but not in {name_a}"
    return None


def relative_distance(a: Tensors, b: Tensors) -> float:
    """‖θ_A − θ_B‖ / ‖θ_A‖ over every floating-point parameter, in float64."""
    diff_sq = norm_sq = 0.0
    for key, tensor in a.items():
        if not tensor.is_floating_point():
            continue
        ta, tb = tensor.to(torch.float64), b[key].to(torch.float64)
        diff_sq += float(torch.sum((ta - tb) ** 2))
        norm_sq += float(torch.sum(ta**2))
    if norm_sq == 0.0:
        return 0.0 if diff_sq == 0.0 else math.inf
    return math.sqrt(diff_sq / norm_sq)


def warn_if_unrelated(distance: float, name_a: str, name_b: str) -> None:
    """Issue a :class:`LineageWarning`, with the distance, above :data:`LINEAGE_THRESHOLD`."""
    if distance > LINEAGE_THRESHOLD:
        warnings.warn(
            f"{name_a} and {name_b} are {distance:.2f} apart (‖A−B‖/‖A‖; a network and its "
            f"fine-tune are usually below {LINEAGE_THRESHOLD:g}): they do not look related, "
            "and blending unrelated networks gives worse images than either one",
            LineageWarning, stacklevel=3)


def check_lineage(a: Tensors, b: Tensors, name_a: str = "A", name_b: str = "B") -> float:
    """Return the relative distance; warn (LineageWarning) when the pair looks unrelated."""
    distance = relative_distance(a, b)
    warn_if_unrelated(distance, name_a, name_b)
    return distance


def _mix(a: Tensors, b: Tensors, alpha: float) -> dict[str, torch.Tensor]:
    """(1−α)·A + α·B per tensor, summed in float64 and rounded once (α = 0.5 is the correctly
    rounded mean); α = 0 and 1 return the ends' tensors unchanged."""
    out: dict[str, torch.Tensor] = {}
    for key, ta in a.items():
        tb = b[key]
        if alpha in (0.0, 1.0):
            out[key] = (tb if alpha else ta).clone()
        elif not (ta.is_floating_point() and tb.is_floating_point()):
            if not torch.equal(ta, tb):
                raise UpscaleError(f"cannot blend the integer tensor {key}: the two differ")
            out[key] = ta.clone()
        else:
            mixed = (1.0 - alpha) * ta.to(torch.float64) + alpha * tb.to(torch.float64)
            out[key] = mixed.to(torch.promote_types(ta.dtype, tb.dtype))
    return out


def blend_state_dicts(psnr: Tensors, gan: Tensors, alpha: float, *,
                      psnr_name: str = "the PSNR network", gan_name: str = "the GAN network",
                      act_type: str | None = None) -> Blend:
    """Check α, shapes and lineage, then blend; any key layout and architecture we know."""
    alpha = check_alpha(alpha)
    canonical_psnr, model = canonical_state(psnr, source=psnr_name, act_type=act_type)
    canonical_gan, _ = canonical_state(gan, source=gan_name, act_type=act_type)
    if difference := first_difference(canonical_psnr, canonical_gan, psnr_name, gan_name):
        raise UpscaleError(
            f"cannot blend {psnr_name} with {gan_name}: not the same architecture ({difference})")
    distance = check_lineage(canonical_psnr, canonical_gan, psnr_name, gan_name)
    return Blend(state=_mix(canonical_psnr, canonical_gan, alpha), alpha=alpha,
                 distance=distance, act_type=model.hyperparameters.get("act_type"))


def write_blend(path: Path, blend: Blend, metadata: Mapping[str, str]) -> None:
    """Write the blend as safetensors under a temporary name, then rename it into place."""
    tensors = {k: v.contiguous() for k, v in blend.state.items()}
    write_atomically(Path(path), lambda tmp: save_file(tensors, str(tmp), metadata=dict(metadata)),
                     overwrite=True)


def cache_key(psnr_sha256: str, gan_sha256: str, alpha: float) -> str:
    """One name for one (A, B, α); α by its exact binary value, not a rounded print."""
    text = f"{psnr_sha256}:{gan_sha256}:{float(alpha).hex()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _read_cached(path: Path, expected: Mapping[str, str]
                 ) -> tuple[dict[str, torch.Tensor], dict[str, str]] | None:
    """A cached blend, if there is one and its metadata says it was made from these inputs."""
    try:
        state, meta = load_safetensors(path)
    except Exception:  # a missing or damaged entry is rebuilt, never trusted or fatal
        return None
    return (state, meta) if all(meta.get(k) == v for k, v in expected.items()) else None


class _Pair:
    """The two checkpoints of a blend, read once, and their weights digests."""

    def __init__(self, psnr_spec: str | os.PathLike, gan_spec: str | os.PathLike,
                 offline: bool | None) -> None:
        self.specs = (os.fspath(psnr_spec), os.fspath(gan_spec))
        self.names = (f"{self.specs[0]} (PSNR)", f"{self.specs[1]} (GAN)")
        (self.psnr, self.psnr_meta), (self.gan, self.gan_meta) = (
            load_state_dict(spec, offline=offline) for spec in self.specs)
        self.sha256 = (weights_sha256(self.psnr), weights_sha256(self.gan))

    def identity(self, alpha: float) -> dict[str, str]:
        """What a blend file records of the inputs it was made from."""
        return {"blend_alpha": repr(alpha), "blend_psnr_sha256": self.sha256[0],
                "blend_gan_sha256": self.sha256[1]}

    def blend(self, alpha: float) -> tuple[Blend, dict[str, str]]:
        """The blend and the metadata a file of it records about how it was made."""
        act_type = self.psnr_meta.get("act_type") or self.gan_meta.get("act_type")
        blend = blend_state_dicts(self.psnr, self.gan, alpha, psnr_name=self.names[0],
                                  gan_name=self.names[1], act_type=act_type)
        metadata = {
            **self.identity(blend.alpha),
            "blend_psnr_source": self.psnr_meta.get("source", self.specs[0]),
            "blend_gan_source": self.gan_meta.get("source", self.specs[1]),
            "blend_relative_distance": f"{blend.distance:.6g}",
        }
        if blend.act_type is not None:
            metadata["act_type"] = blend.act_type
        return blend, metadata


def blend_checkpoints(psnr_spec: str | os.PathLike, gan_spec: str | os.PathLike, alpha: float,
                      *, offline: bool | None = None) -> tuple[Blend, dict[str, str]]:
    """θ = (1−α)·θ_PSNR + α·θ_GAN and the metadata a file of it records (``upscale blend``)."""
    return _Pair(psnr_spec, gan_spec, offline).blend(alpha)


def load_blended_model(psnr_spec: str | os.PathLike, gan_spec: str | os.PathLike,
                       alpha: float, *, offline: bool | None = None) -> ModelDescriptor:
    """θ = (1−α)·θ_PSNR + α·θ_GAN, cached by (A, B, α); an unrelated pair warns on hits too."""
    alpha = check_alpha(alpha)  # before any weights are read
    pair = _Pair(psnr_spec, gan_spec, offline)
    path = cache_root() / "blends" / f"{cache_key(*pair.sha256, alpha)}.safetensors"
    cached = _read_cached(path, pair.identity(alpha))
    display = f"{1 - alpha:g}·{pair.specs[0]} + {alpha:g}·{pair.specs[1]}"
    if cached is not None:
        state, metadata = cached
        warn_if_unrelated(float(metadata.get("blend_relative_distance", "0")), *pair.names)
        model = build_model(state, hints=_hints(metadata.get("act_type")), source=str(path))
    else:
        blend, metadata = pair.blend(alpha)
        if 0.0 < alpha < 1.0:  # the ends are the sources themselves: nothing worth caching
            with contextlib.suppress(OSError):  # a read-only cache costs time, not correctness
                write_blend(path, blend, metadata)
        model = build_model(blend.state, hints=_hints(blend.act_type), source=display)
    return dataclasses.replace(model, source=display, metadata=metadata)
