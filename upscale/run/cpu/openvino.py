"""The network converted to OpenVINO's IR, compiled, and run by OpenVINO on the CPU; the IR
and compiled blob are cached per weights digest, as tracing costs seconds."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import threading
from pathlib import Path

import torch
from torch import nn

from ...loading.cache import cache_root
from ...model import ModelDescriptor
from ...notes import long_step
from ...outputs import temporary_sibling
from .shared import cpu_count

# The traced input's sides, multiples of nothing: tracing keeps the branch taken, so a windowed
# network traced padding its input is right for every size (padding by zero is a no-op).
EXAMPLE_SHAPE = (37, 43)
STATIC_SHAPES = 4  # compiled shapes kept (each holds its own activation buffers)


def available() -> bool:
    """Whether OpenVINO is installed (not imported here: importing it costs ~0.3 s)."""
    return importlib.util.find_spec("openvino") is not None


def ir_path(model: ModelDescriptor, shape: tuple[int, ...] | None = None) -> Path:
    """The IR's ``.xml`` (its ``.bin`` beside it), named by everything that makes the graph:
    one IR for every size, or one traced at ``shape`` (N, C, H, W)."""
    digest = hashlib.sha256()
    digest.update(model.architecture.encode())
    digest.update(repr(sorted(model.hyperparameters.items())).encode())
    digest.update(model.weights_sha256.encode())
    digest.update(repr(EXAMPLE_SHAPE).encode())  # a graph traced at another shape may differ
    traced_at = "" if shape is None else "-at-" + "x".join(map(str, shape))
    return cache_root() / "openvino" / f"{model.name}-{digest.hexdigest()[:20]}{traced_at}.xml"


def convert_to_ir(model: ModelDescriptor, network: nn.Module, target: Path,
                  shape: tuple[int, ...] | None = None) -> Path:
    """Trace ``network``, every size dynamic (or fixed at ``shape``); save the ``.bin``, then
    the ``.xml``, atomically."""
    import openvino as ov

    channels = model.in_channels
    if shape is None:
        example = torch.rand(1, channels, *model.size.fit_shape(*EXAMPLE_SHAPE))
        dims = ov.PartialShape([-1, channels, -1, -1])
    else:
        example, dims = torch.rand(*shape), ov.PartialShape(list(shape))
    with torch.no_grad():
        model = ov.convert_model(network, example_input=example, input=[dims])
    staging = temporary_sibling(target)  # a folder: the IR is two files
    staging.mkdir(parents=True, exist_ok=True)
    try:
        ov.save_model(model, staging / "model.xml", compress_to_fp16=False)
        os.replace(staging / "model.bin", target.with_suffix(".bin"))
        os.replace(staging / "model.xml", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


class OpenVINONetwork(nn.Module):
    """Runs the IR on N×C×H×W float32, compiled per input shape (``"static"``: the
    :data:`STATIC_SHAPES` latest kept) or once (``"dynamic"``: up to 1.4× slower)."""

    def __init__(self, xml: Path, shapes: str = "static") -> None:
        super().__init__()
        import openvino as ov

        self.xml, self.shapes = xml, shapes
        self._core = ov.Core()
        # fp32 everywhere (no bf16 on AMX CPUs), all cores, one request at a time
        self._config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY",
                        "INFERENCE_NUM_THREADS": cpu_count(), "NUM_STREAMS": 1,
                        "CACHE_DIR": str(cache_root() / "openvino" / "compiled")}
        self._lock = threading.Lock()
        self._requests: dict[tuple[int, ...] | None, object] = {}  # oldest first
        self._model = None

    def _request_for(self, shape: tuple[int, ...]):
        key = None if self.shapes == "dynamic" else shape
        request = self._requests.pop(key, None)
        if request is None:
            if len(self._requests) >= STATIC_SHAPES:  # drop the least recently used
                self._requests.pop(next(iter(self._requests)))
            model = str(self.xml)  # dynamic: from the file, so CACHE_DIR skips reading it
            if key is not None:
                if self._model is None:
                    self._model = self._core.read_model(model)
                model = self._model.clone()
                model.reshape(list(key))
            request = self._core.compile_model(model, "CPU", self._config).create_infer_request()
        self._requests[key] = request  # most recently used last
        return request

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        array = x.detach().to(device="cpu", dtype=torch.float32).contiguous().numpy()
        with self._lock:
            request = self._request_for(tuple(array.shape))
            request.infer({0: array}, share_inputs=True)
            output = request.get_output_tensor(0).data.copy()
        return torch.from_numpy(output)


def ensure_ir(model: ModelDescriptor, network: nn.Module,
              shape: tuple[int, ...] | None = None) -> Path:
    """The network's IR (see :func:`ir_path`), converted now if it is not cached yet."""
    xml = ir_path(model, shape)
    if not xml.is_file():
        xml.parent.mkdir(parents=True, exist_ok=True)
        at = "once" if shape is None else "at " + "×".join(map(str, shape[-2:])) + ", once"
        with long_step(f"converting {model.source} for OpenVINO ({at}; cached in {xml.parent})"):
            convert_to_ir(model, network, xml, shape)
    return xml


def openvino_network(model: ModelDescriptor, network: nn.Module | None = None,
                     shapes: str = "static") -> OpenVINONetwork:
    """The OpenVINO engine for the model, converting ``network`` (fp32, CPU) on first use."""
    return OpenVINONetwork(ensure_ir(model, model.module if network is None else network),
                           shapes).eval()


class TracedPerShape(nn.Module):
    """OpenVINO for a graph that holds only at the size it was traced at (DAT turns its count
    of windows into constants): an IR traced at each input shape on first use, and cached."""

    def __init__(self, model: ModelDescriptor, network: nn.Module) -> None:
        super().__init__()
        self.model, self.network = model, network
        self._lock = threading.Lock()
        self._engines: dict[tuple[int, ...], OpenVINONetwork] = {}  # oldest first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = tuple(x.shape)
        with self._lock:
            engine = self._engines.pop(shape, None)
            if engine is None:
                if len(self._engines) >= STATIC_SHAPES:  # drop the least recently used
                    self._engines.pop(next(iter(self._engines)))
                engine = OpenVINONetwork(ensure_ir(self.model, self.network, shape))
            self._engines[shape] = engine
        return engine(x)
