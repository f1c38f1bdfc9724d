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
import json
import os
import shutil
import sys
import threading
import uuid
from pathlib import Path

import torch
from torch import nn

from ..loading.cache import cache_root
from ..outputs import write_atomically
from .memory import NetworkFacts, probe_network

NETWORK_ATTRIBUTES = ("arch_name", "scale", "in_channels", "out_channels", "size_multiple",
                      "min_size", "hyperparameters", "source_name")
EXAMPLE_SIDE = 32  # traced input side; every spatial size is left dynamic in the IR
STATIC_SHAPES = 4  # compiled shapes kept (each holds its own activation buffers)


def available() -> bool:
    """Whether OpenVINO is installed (not imported here: importing it costs ~0.3 s)."""
    return importlib.util.find_spec("openvino") is not None


def cpu_count() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def say(message: str) -> None:
    """One status line on stderr (the CLI's note style)."""
    print(f"upscale: {message}", file=sys.stderr, flush=True)


def network_digest(network: nn.Module) -> str:
    """sha256 naming the function: architecture, hyperparameters and every weight byte."""
    from ..loading.blend import weights_sha256

    digest = hashlib.sha256()
    digest.update(type(network).__qualname__.encode())
    digest.update(repr(sorted(getattr(network, "hyperparameters", {}).items())).encode())
    digest.update(weights_sha256(network.state_dict()).encode())
    return digest.hexdigest()


def cache_dir() -> Path:
    return cache_root() / "openvino"


def ir_path(network: nn.Module) -> Path:
    """Where this network's IR lives (``.xml``; its weights are the ``.bin`` beside it)."""
    name = getattr(network, "arch_name", type(network).__name__).lower()
    return cache_dir() / f"{name}-{network_digest(network)[:20]}.xml"


def convert_to_ir(network: nn.Module, target: Path) -> Path:
    """Trace ``network`` with every spatial size and the batch dynamic; save it atomically.

    The ``.bin`` is moved into place before the ``.xml``, so an ``.xml`` that
    exists always has its weights.
    """
    import openvino as ov

    side = EXAMPLE_SIDE * max(1, int(getattr(network, "size_multiple", 1)))
    channels = int(network.in_channels)
    example = torch.rand(1, channels, side, side)
    with torch.no_grad():
        model = ov.convert_model(network, example_input=example,
                                 input=[ov.PartialShape([-1, channels, -1, -1])])
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
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

    def __init__(self, network: nn.Module, xml: Path, shapes: str = "static") -> None:
        super().__init__()
        import openvino as ov

        for name in NETWORK_ATTRIBUTES:
            if hasattr(network, name):
                setattr(self, name, getattr(network, name))
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


def cached_facts(network: nn.Module, xml: Path) -> NetworkFacts:
    """The tiling engine's probe of the network, saved beside its IR (a warm start skips it)."""
    path = xml.with_suffix(".facts.json")
    try:
        return NetworkFacts(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        pass
    facts = probe_network(network, network.in_channels, getattr(network, "size_multiple", 1),
                          torch.device("cpu"), torch.float32)
    text = json.dumps(facts.__dict__)
    write_atomically(path, lambda tmp: tmp.write_text(text))
    return facts


def openvino_network(network: nn.Module, shapes: str = "static") -> OpenVINONetwork:
    """The OpenVINO engine for ``network`` (fp32, on the CPU), converting it on first use."""
    xml = ir_path(network)
    if not xml.is_file():
        name = getattr(network, "source_name", None) or getattr(network, "arch_name", "network")
        say(f"converting {name} for OpenVINO (once; cached in {xml.parent})")
        xml.parent.mkdir(parents=True, exist_ok=True)
        convert_to_ir(network, xml)
    module = OpenVINONetwork(network, xml, shapes).eval()
    module.network_facts = cached_facts(network, xml)
    return module
