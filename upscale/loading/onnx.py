"""ONNX files (``-m model.onnx``), as OpenModelDB publishes many models: OpenVINO runs the
graph on the CPU (``bench/archs.py`` measured it against onnxruntime), so ``--device cuda``
is refused; the scale comes from one probe run, and the weights cannot be blended."""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import UnsupportedModelError
from ..model import ModelDescriptor, SizeRequirements
from .cache import sha256_of

ARCH_NAME = "ONNX"
PROBE_SIDE = 32
CHANNELS = (1, 3, 4)


class OnnxNetwork(torch.nn.Module):
    """Runs an ONNX graph with OpenVINO on the CPU (``runs_itself``: no conversion is tried);
    its only tensor is the file's sha256, so the weights digest names the graph."""

    runs_itself = True

    def __init__(self, path: Path, digest: str) -> None:
        super().__init__()
        from ..run.cpu.openvino import OpenVINONetwork

        self.path, self.digest = Path(path), digest
        self.engine = OpenVINONetwork(self.path)
        self.register_buffer("onnx_sha256", torch.tensor(list(bytes.fromhex(digest)),
                                                         dtype=torch.uint8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.engine(x.cpu()).float()

    def __reduce__(self):  # noqa: ANN204 - pickled for Ray: reopened from the file
        return (type(self), (self.path, self.digest))


def _reason(exc: BaseException) -> str:
    """OpenVINO's message without its "Exception from src/...cpp:N:" location lines."""
    lines = [line.strip() for line in str(exc).splitlines()
             if line.strip() and not line.startswith("Exception from ")]
    return lines[0][:160] if lines else type(exc).__name__


def _refuse(path: Path, why: str) -> UnsupportedModelError:
    return UnsupportedModelError(f"{path}: not an image-to-image ONNX graph ({why})")


def _check_graph(path: Path) -> int:
    """The input channels of a one-image-in, one-image-out graph."""
    import openvino as ov

    try:
        graph = ov.Core().read_model(str(path))
    except Exception as exc:  # noqa: BLE001 - OpenVINO's reader raises its own kinds
        raise UnsupportedModelError(f"{path}: not a readable ONNX file ({_reason(exc)})") from exc
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise _refuse(path, f"{len(graph.inputs)} inputs and {len(graph.outputs)} outputs; "
                            "an upscaler has one of each")
    shape = graph.inputs[0].get_partial_shape()
    out_rank = graph.outputs[0].get_partial_shape().rank
    if shape.rank.is_dynamic or shape.rank.get_length() != 4 or out_rank.is_dynamic \
            or out_rank.get_length() != 4:
        raise _refuse(path, f"input {shape}, output rank {out_rank}; an upscaler takes and "
                            "gives N×C×H×W")
    channels = shape[1]
    if channels.is_dynamic or channels.get_length() not in CHANNELS:
        raise _refuse(path, f"input {shape}: the channels must be 1, 3 or 4")
    return channels.get_length()


def load_onnx(path: Path) -> ModelDescriptor:
    """The descriptor of an ONNX upscaler: facts from its graph and one probe run."""
    from ..archs.receptive import measured_radius

    path = Path(path)
    channels = _check_graph(path)
    network = OnnxNetwork(path, sha256_of(path)).eval()
    probe = torch.rand(1, channels, PROBE_SIDE, PROBE_SIDE)
    try:
        with torch.inference_mode():
            out = network(probe)
    except Exception as exc:  # noqa: BLE001 - a graph with fixed sides, or one that fails
        raise _refuse(path, f"it fails on a {PROBE_SIDE}×{PROBE_SIDE} image: "
                            f"{_reason(exc)}") from exc
    height, width = out.shape[-2:]
    if out.shape[1] != channels or height != width or height % PROBE_SIDE:
        raise _refuse(path, f"{tuple(probe.shape)} in, {tuple(out.shape)} out; an upscaler "
                            "keeps the channels and scales both sides by a whole number")
    scale = height // PROBE_SIDE
    size = SizeRequirements()
    radius = measured_radius(network, size, scale, channels)
    if radius.alignment > 1:
        size = SizeRequirements(multiple_of=radius.alignment)
    return ModelDescriptor(
        module=network, architecture=ARCH_NAME, scale=scale, in_channels=channels,
        out_channels=channels, size=size, receptive_radius=radius.pixels,
        hyperparameters={"receptive_radius": radius.describe(), "file": path.name},
        supports_half=False, supports_bfloat16=False, cpu_only=True)
