"""Every other architecture, through spandrel (the ``upscale[models]`` extra).

spandrel (chaiNNer's loader) detects some forty architectures from their
tensors (SPAN, DAT, HAT, SwinIR, OmniSR, RealPLKSR, RealCUGAN, Swin2SR, ...)
and describes each with an ``ImageModelDescriptor``. It only ever sees tensors:
our own reader (:mod:`upscale.loading.formats`) opens the file, refusing
pickles that hold more than tensors, before any of it reaches spandrel.

Its descriptor's facts become ours: scale, channels, size requirements, half and
bf16 support, tiling advice. The receptive radius is not one of them: it is
measured on the network itself (:mod:`upscale.archs.receptive`).
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Mapping
from types import ModuleType

import torch
from torch import nn

from ..errors import UnsupportedModelError
from ..model import ModelDescriptor, SizeRequirements
from .receptive import measured_radius

ARCH_NAME = "spandrel"  # the family; each network's own name is its spandrel architecture
EXTRA = "upscale[models]"
INSTALL_HINT = f'pip install "{EXTRA}"'
# spandrel-extra-arches (``upscale[models-extra]``): the architectures whose code is licensed
# for non-commercial use only (SRFormer, CodeFormer, Restormer, DDColor, ...), which spandrel
# keeps out of its own package. When it is installed they join spandrel's registry.
EXTRA_ARCHES = "spandrel_extra_arches"
EXTRA_INSTALL_HINT = 'pip install "upscale[models-extra]"'
TORCHVISION_HINT = (
    "install the torchvision built for your torch: PyPI's torchvision goes with PyPI's torch; "
    "with torch from https://download.pytorch.org/whl/cpu, run pip install torchvision "
    "--index-url https://download.pytorch.org/whl/cpu")


def installed() -> bool:
    """Whether spandrel is installed (without importing it: that imports torchvision)."""
    return importlib.util.find_spec("spandrel") is not None


def library() -> ModuleType | None:
    """spandrel, or None when the extra is not installed.

    An installed spandrel that fails to import is nearly always a torchvision built
    for another torch (``operator torchvision::nms does not exist``): one line says so.
    """
    if not installed():
        return None
    try:
        import spandrel
    except Exception as exc:  # noqa: BLE001 - any import failure is the same one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsupportedModelError(
            f"spandrel is installed but cannot be imported ({first[:160]}); "
            f"{TORCHVISION_HINT}") from exc
    _add_extra_arches()
    return spandrel


def extra_arches_installed() -> bool:
    """Whether spandrel-extra-arches (the ``upscale[models-extra]`` extra) is installed."""
    return importlib.util.find_spec(EXTRA_ARCHES) is not None


@functools.cache
def _add_extra_arches() -> None:
    """spandrel-extra-arches' architectures in spandrel's registry, once per process, when
    it is installed (a broken install is one line, as a broken spandrel is)."""
    if not extra_arches_installed():
        return
    try:
        import spandrel_extra_arches
    except Exception as exc:  # noqa: BLE001 - any import failure is the same one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsupportedModelError(
            f"spandrel-extra-arches is installed but cannot be imported ({first[:160]})"
        ) from exc
    spandrel_extra_arches.install(ignore_duplicates=True)  # a caller may have added them


def architecture_names() -> list[str]:
    """The names of every architecture spandrel can load (empty without the extra)."""
    spandrel = library()
    if spandrel is None:
        return []
    return sorted({support.architecture.name for support in spandrel.MAIN_REGISTRY.architectures()},
                  key=str.lower)


class SpandrelNetwork(nn.Module):
    """A network spandrel built, called the way spandrel calls it; N×C×H×W in and out.

    ``facts`` are the descriptor's, kept so that :func:`describe` (and a copy of this
    module on another device) needs no spandrel descriptor.
    """

    def __init__(self, network: nn.Module, call: Callable[[nn.Module, torch.Tensor], torch.Tensor],
                 facts: Mapping[str, object]) -> None:
        super().__init__()
        self.network = network
        self.call = call
        self.facts = dict(facts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.call(self.network, x)

    def state_dict(self, *args, **kwargs):  # noqa: ANN201 - nn.Module's
        """The network's tensors under spandrel's own names (no wrapper prefix), so that a
        blend of two of them, or their weights digest, is the checkpoint's."""
        return self.network.state_dict(*args, **kwargs)

    def load_state_dict(self, state, *args, **kwargs):  # noqa: ANN001, ANN201 - nn.Module's
        return self.network.load_state_dict(state, *args, **kwargs)


def _call_of(descriptor: object) -> Callable[[nn.Module, torch.Tensor], torch.Tensor]:
    """How spandrel calls the network (a few architectures return a tuple, or rescale).

    Its default, ``model(image)``, is replaced by a function of ours: spandrel's is a
    lambda, which the plain pickle (e.g. a Python caller's multiprocessing) cannot send.
    """
    call = getattr(descriptor, "_call_fn", None)
    if not callable(call) or getattr(call, "__module__", "").endswith("model_descriptor"):
        return _plain_call
    return call


def _plain_call(network: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return network(x)


def _facts(descriptor) -> dict[str, object]:  # noqa: ANN001 - spandrel's ImageModelDescriptor
    size = descriptor.size_requirements
    return {
        "architecture": descriptor.architecture.name,
        "architecture_id": str(descriptor.architecture.id),
        "purpose": descriptor.purpose,
        "tags": list(descriptor.tags),
        "scale": int(descriptor.scale),
        "in_channels": int(descriptor.input_channels),
        "out_channels": int(descriptor.output_channels),
        "minimum": int(size.minimum),
        "multiple_of": int(size.multiple_of),
        "square": bool(size.square),
        "supports_half": bool(descriptor.supports_half),
        "supports_bfloat16": bool(descriptor.supports_bfloat16),
        "tiling": descriptor.tiling.name.lower(),  # supported, discouraged or internal
    }


def _detected(spandrel: ModuleType, state: Mapping[str, torch.Tensor]) -> str | None:
    """The name of the architecture spandrel takes these tensors for, if any."""
    for support in spandrel.MAIN_REGISTRY.architectures("detection"):
        if support.architecture.detect(state):
            return support.architecture.name
    return None


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
        name = _detected(spandrel, state) or "an architecture spandrel knows"
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
    size = SizeRequirements(multiple_of=max(1, int(facts["multiple_of"])),
                            minimum=max(1, int(facts["minimum"])),
                            square=bool(facts["square"]))
    radius = measured_radius(net, size, int(facts["scale"]), int(facts["in_channels"]))
    if radius.alignment > size.multiple_of:  # we pad to its windows, so tiles align with them
        size = SizeRequirements(multiple_of=radius.alignment, minimum=size.minimum,
                                square=size.square)
    hyperparameters = {key: facts[key] for key in ("architecture_id", "purpose", "tags")}
    hyperparameters["receptive_radius"] = radius.describe()
    return ModelDescriptor(
        module=net, architecture=str(facts["architecture"]), scale=int(facts["scale"]),
        in_channels=int(facts["in_channels"]), out_channels=int(facts["out_channels"]),
        size=size, receptive_radius=radius.pixels, hyperparameters=hyperparameters,
        supports_half=bool(facts["supports_half"]),
        supports_bfloat16=bool(facts["supports_bfloat16"]), tiling=facts["tiling"])


NETWORK = SpandrelNetwork
