"""The CPU engine: the network converted once to OpenVINO's IR, compiled, and run by OpenVINO.

On the development CPU OpenVINO ran RealESRGAN x4plus and animevideov3 faster than
our own Winograd and oneDNN modules and than ncnn (``bench/speed.py``,
``bench/RESULTS.md``), in a library that is kept current for new CPUs. The
conversion traces the PyTorch module, so it works for any architecture the
loader builds, but it costs seconds: the IR is saved once per weights digest in
the model cache (``$UPSCALE_CACHE/openvino``), and OpenVINO's own ``CACHE_DIR``
beside it keeps the compiled blob, so a warm start only maps files.
"""

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

# The traced input's height and width; every spatial size is left dynamic in the IR. Sides
# that are multiples of nothing: a windowed network pads its input to whole windows only
# when it must, and tracing keeps the branch taken, so an input that needs the padding
# traces a graph that is right for every size (padding by zero is a no-op).
EXAMPLE_SHAPE = (37, 43)
STATIC_SHAPES = 4  # compiled shapes kept (each holds its own activation buffers)


def available() -> bool:
    """Whether OpenVINO is installed (not imported here: importing it costs ~0.3 s)."""
    return importlib.util.find_spec("openvino") is not None


def network_digest(model: ModelDescriptor) -> str:
    """sha256 naming the function: architecture, hyperparameters and every weight byte."""
    digest = hashlib.sha256()
    digest.update(model.architecture.encode())
    digest.update(repr(sorted(model.hyperparameters.items())).encode())
    digest.update(model.weights_sha256.encode())
    digest.update(repr(EXAMPLE_SHAPE).encode())  # a graph traced at another shape may differ
    return digest.hexdigest()


def cache_dir() -> Path:
    return cache_root() / "openvino"


def ir_path(model: ModelDescriptor, shape: tuple[int, ...] | None = None) -> Path:
    """Where this network's IR lives (``.xml``; its weights are the ``.bin`` beside it):
    one for every size, or one traced at ``shape`` (N, C, H, W)."""
    traced_at = "" if shape is None else "-at-" + "x".join(map(str, shape))
    return cache_dir() / f"{model.name}-{network_digest(model)[:20]}{traced_at}.xml"


def convert_to_ir(model: ModelDescriptor, network: nn.Module, target: Path,
                  shape: tuple[int, ...] | None = None) -> Path:
    """Trace ``network`` with every spatial size and the batch dynamic, or fixed at
    ``shape``; save it atomically.

    The ``.bin`` is moved into place before the ``.xml``, so an ``.xml`` that
    exists always has its weights.
    """
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


def compile_config() -> dict[str, object]:
    """fp32 everywhere (no bf16 on AMX CPUs), all cores, one request at a time."""
    return {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": cpu_count(), "NUM_STREAMS": 1,
            "CACHE_DIR": str(cache_dir() / "compiled")}


class OpenVINONetwork(nn.Module):
    """Runs the compiled IR; takes and returns N×C×H×W float32 like the network it came from.

    ``shapes="static"`` (the default) compiles the IR for each input shape it is
    given, keeping the :data:`STATIC_SHAPES` most recently used: single images
    and video frames have one shape, a row of tiles at most four (first, middle
    pair, last). ``"dynamic"`` compiles once for every size; it measured up to
    1.4× slower per call (``bench/speed.py``).
    """

    def __init__(self, xml: Path, shapes: str = "static") -> None:
        super().__init__()
        import openvino as ov

        self.xml, self.shapes = xml, shapes
        self._core = ov.Core()
        self._config = compile_config()
        self._lock = threading.Lock()
        self._requests: dict[tuple[int, ...] | None, object] = {}  # oldest first
        self._model = None

    def _compile(self, shape: tuple[int, ...] | None):
        if shape is None:  # dynamic: straight from the file, so CACHE_DIR skips reading it
            return self._core.compile_model(str(self.xml), "CPU", self._config)
        if self._model is None:
            self._model = self._core.read_model(str(self.xml))
        model = self._model.clone()
        model.reshape(list(shape))
        return self._core.compile_model(model, "CPU", self._config)

    def _request_for(self, shape: tuple[int, ...]):
        key = None if self.shapes == "dynamic" else shape
        request = self._requests.pop(key, None)
        if request is None:
            if len(self._requests) >= STATIC_SHAPES:  # drop the least recently used
                self._requests.pop(next(iter(self._requests)))
            request = self._compile(key).create_infer_request()
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
        at = "" if shape is None else " at " + "×".join(map(str, shape[-2:]))
        cached = "once" if shape is None else "once per input size"
        with long_step(f"converting {model.source} for OpenVINO{at} ({cached}; cached in "
                       f"{xml.parent})"):
            convert_to_ir(model, network, xml, shape)
    return xml


def openvino_network(model: ModelDescriptor, network: nn.Module | None = None,
                     shapes: str = "static") -> OpenVINONetwork:
    """The OpenVINO engine for the model (fp32, on the CPU), converting it on first use.

    ``network`` is the model's module as prepared for the CPU in fp32 (default: the
    model's own).
    """
    xml = ensure_ir(model, model.module if network is None else network)
    return OpenVINONetwork(xml, shapes).eval()


class TracedPerShape(nn.Module):
    """OpenVINO for a network whose traced graph holds only at the size it was traced at
    (DAT turns its count of windows into constants): an IR traced for each input shape,
    on first use, cached like the others. Costly once per size, then fast: DAT ran
    ~7× faster than in PyTorch (``bench/archs.py``)."""

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
