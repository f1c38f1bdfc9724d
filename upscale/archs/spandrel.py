"""Every other architecture, through spandrel (the ``upscale[models]`` extra), which only ever
sees the tensors our own reader (:mod:`upscale.loading.formats`) took from the file. Its
descriptor's facts become ours, except the receptive radius, which is measured."""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import torch
from torch import nn

from ..errors import UnsupportedModelError
from ..model import ModelDescriptor, SizeRequirements
from .receptive import measured_radius

ARCH_NAME = "spandrel"  # the family; each network's own name is its spandrel architecture
INSTALL_HINT = 'pip install "upscale[models]"'
# spandrel-extra-arches (``upscale[models-extra]``): the architectures licensed for
# non-commercial use only (SRFormer, CodeFormer, ...); when installed they join spandrel's.
EXTRA_ARCHES = "spandrel_extra_arches"
EXTRA_INSTALL_HINT = 'pip install "upscale[models-extra]"'
TORCHVISION_HINT = (
    "install the torchvision built for your torch: PyPI's torchvision goes with PyPI's torch; "
    "with torch from https://download.pytorch.org/whl/cpu, run pip install torchvision "
    "--index-url https://download.pytorch.org/whl/cpu")


def installed() -> bool:
    """Whether spandrel is installed (without importing it: that imports torchvision)."""
    return importlib.util.find_spec("spandrel") is not None


def _import(module: str, name: str, hint: str = "") -> ModuleType:
    """An installed module, or one line saying why it cannot be imported."""
    try:
        return importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure is the same one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsupportedModelError(
            f"{name} is installed but cannot be imported ({first[:160]}){hint}") from exc


def library() -> ModuleType | None:
    """spandrel, or None when the extra is not installed; one that fails to import is nearly
    always a torchvision built for another torch (``torchvision::nms does not exist``)."""
    if not installed():
        return None
    spandrel = _import("spandrel", "spandrel", f"; {TORCHVISION_HINT}")
    _add_extra_arches()
    return spandrel


def extra_arches_installed() -> bool:
    """Whether spandrel-extra-arches (the ``upscale[models-extra]`` extra) is installed."""
    return importlib.util.find_spec(EXTRA_ARCHES) is not None


@functools.cache
def _add_extra_arches() -> None:
    """spandrel-extra-arches' architectures in spandrel's registry, once per process."""
    if extra_arches_installed():  # a caller may have added them already
        _import(EXTRA_ARCHES, "spandrel-extra-arches").install(ignore_duplicates=True)


def architecture_names() -> list[str]:
    """The names of every architecture spandrel can load (empty without the extra)."""
    spandrel = library()
    if spandrel is None:
        return []
    return sorted({support.architecture.name for support in spandrel.MAIN_REGISTRY.architectures()},
                  key=str.lower)


class SpandrelNetwork(nn.Module):
    """A network spandrel built, called as spandrel calls it, with its descriptor's facts."""

    def __init__(self, network: nn.Module, call: Callable[[nn.Module, torch.Tensor], torch.Tensor],
                 facts: Mapping[str, Any]) -> None:
        super().__init__()
        self.network, self.call, self.facts = network, call, dict(facts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.call(self.network, x)

    def state_dict(self, *args, **kwargs):  # noqa: ANN201 - nn.Module's
        """Tensors under spandrel's own names: a blend or weights digest is the checkpoint's."""
        return self.network.state_dict(*args, **kwargs)

    def load_state_dict(self, state, *args, **kwargs):  # noqa: ANN001, ANN201 - nn.Module's
        return self.network.load_state_dict(state, *args, **kwargs)


def _call_of(descriptor: object) -> Callable[[nn.Module, torch.Tensor], torch.Tensor]:
    """How spandrel calls the network (a few architectures return a tuple, or rescale); its
    default lambda is replaced by a function of ours, which the plain pickle can send."""
    call = getattr(descriptor, "_call_fn", None)
    if not callable(call) or getattr(call, "__module__", "").endswith("model_descriptor"):
        return _plain_call
    return call


def _plain_call(network: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return network(x)


def _facts(descriptor) -> dict[str, Any]:  # noqa: ANN001 - spandrel's ImageModelDescriptor
    """The descriptor's facts, as :class:`ModelDescriptor` fields."""
    size = descriptor.size_requirements
    return {
        "architecture": descriptor.architecture.name,
        "scale": int(descriptor.scale),
        "in_channels": int(descriptor.input_channels),
        "out_channels": int(descriptor.output_channels),
        "size": SizeRequirements(multiple_of=max(1, int(size.multiple_of)),
                                 minimum=max(1, int(size.minimum)), square=bool(size.square)),
        "hyperparameters": {"architecture_id": str(descriptor.architecture.id),
                            "purpose": descriptor.purpose, "tags": list(descriptor.tags)},
        "supports_half": bool(descriptor.supports_half),
        "supports_bfloat16": bool(descriptor.supports_bfloat16),
        "tiling": descriptor.tiling.name.lower(),  # supported, discouraged or internal
    }


def from_state_dict(state: Mapping[str, torch.Tensor], hints: Mapping[str, str]
                    ) -> SpandrelNetwork | None:
    """The network spandrel detects in these tensors; None when it knows no such layout
    or is not installed (the caller's unknown-layout message then names the extra)."""
    spandrel = library()
    if spandrel is None:
        return None
    try:
        descriptor = spandrel.ModelLoader().load_from_state_dict(dict(state))
    except spandrel.UnsupportedModelError:
        return None
    except Exception as exc:  # noqa: BLE001 - detected, but the tensors do not build it
        name = next((support.architecture.name
                     for support in spandrel.MAIN_REGISTRY.architectures("detection")
                     if support.architecture.detect(state)), "an architecture spandrel knows")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsupportedModelError(
            f"looks like {name} but the tensors do not fit it ({first[:200]})") from exc
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise UnsupportedModelError(
            f"is a {descriptor.architecture.name} network for {descriptor.purpose.lower()}, "
            "which needs a mask besides the image; upscale runs image-to-image networks")
    network = descriptor.model.float().eval()
    return SpandrelNetwork(network, _call_of(descriptor), _facts(descriptor)).eval()


def describe(net: SpandrelNetwork) -> ModelDescriptor:
    """The model contract's facts: spandrel's descriptor, and the measured receptive radius."""
    facts = net.facts
    size = facts["size"]
    radius = measured_radius(net, size, facts["scale"], facts["in_channels"])
    if radius.alignment > size.multiple_of:  # we pad to its windows, so tiles align with them
        size = dataclasses.replace(size, multiple_of=radius.alignment)
    hyperparameters = {**facts["hyperparameters"], "receptive_radius": radius.describe()}
    facts = {**facts, "size": size, "hyperparameters": hyperparameters}
    return ModelDescriptor(module=net, receptive_radius=radius.pixels, **facts)


NETWORK = SpandrelNetwork
