"""GPU inference, measured: fps, fp16 against fp32, memory, tile size, Tensor Core share, video.

One command on a CUDA machine measures what issue 15 asks and writes the tables
into bench/RESULTS.md (between this script's markers, replacing its last run):

- x4plus and animevideov3 at 640x480, 1280x720 and 1920x1080 input, fp16 and
  fp32: images per second through ``run_network`` (the whole user path: pixels
  to the device, automatic tiles, pixels back), best of ``--repeats``; peak GPU
  memory; the tile side the engine chose; fp16's output against fp32's in dB
  (float32 input and output, so 8-bit rounding does not hide the difference);
- the share of the card's dense fp16 Tensor Core peak each row reaches (the goal,
  50 %, is for x4plus in fp16): ``flops_per_input_pixel`` (about 36 MFLOP per
  input pixel for x4plus, counted here) x pixels x fps / peak; the peak comes
  from a small table by card name, or ``--peak-tflops``;
- ``--variants``: channels_last and cudnn.benchmark against the default, so
  they go into the library only if they are measured to help;
- a ``--clip-seconds`` (60) clip at ``--clip`` (1920x1080) through
  ``upscale_video`` (decode, network, encode, mux: what the CLI runs) against
  the same network on frames already in memory; their ratio is the video
  pipeline's overhead.

    python bench/gpu.py                                   # CUDA: everything, into RESULTS.md
    python bench/gpu.py --device cpu --random-weights --sizes 24x16 --clip 32x18 \\
        --clip-seconds 1 --repeats 1 --results /tmp/gpu.md  # the smoke run the tests use

On the CPU only fp32 runs by default (fp16 there is emulated, hundreds of times slower),
and the plain PyTorch modules run: this script is for the GPU path, and the CPU's own
fast modules take long to set up (bench/speed.py measures those).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import math
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from upscale.run import PreparedNetwork, prepare_network, run_network  # noqa: E402
from upscale.run.engine import default_tile_pad, tile_side  # noqa: E402

SET5 = REPO.parent / "shared" / "data" / "set5"
BEGIN, END = "<!-- bench/gpu.py: begin -->", "<!-- bench/gpu.py: end -->"

MODELS = {  # short name: (registry name, the same shape with random weights)
    "x4plus": ("realesrgan-x4plus", "rrdbnet"),
    "animevideov3": ("realesr-animevideov3", "srvgg"),
}
# Dense fp16 Tensor Core TFLOPS with fp32 accumulation (what cuDNN's fp16 convolutions use in
# PyTorch), from NVIDIA's datasheets, boost clock, no sparsity. First match in the name wins.
PEAK_FP16_TFLOPS = [
    ("H200", 989.0), ("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.0),
    ("A100", 312.0), ("L40S", 362.0), ("L40", 181.0), ("L4", 121.0), ("A10", 125.0),
    ("V100S", 130.0), ("V100-PCIE", 112.0), ("V100", 125.0), ("T4", 65.0),
    ("RTX 6000 Ada", 364.0), ("RTX A6000", 155.0), ("RTX 4090", 165.0), ("RTX 3090", 71.0),
    ("RTX 2080 Ti", 54.0),
]
# Real-ESRGAN's published animevideov3 speed on a V100 (docs/anime_video_model.md).
PUBLISHED_V100_FPS = {(1280, 720): 22.6, (1920, 1080): 10.0}


@dataclass
class Row:
    model: str
    size: tuple[int, int]
    precision: str
    fps: float
    tile: int
    peak_mib: float | None
    psnr_db: float | None = None
    tensor_core_share: float | None = None
    note: str = ""


def parse_size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def flops_per_input_pixel(network: torch.nn.Module, side: int = 16) -> float:
    """2 x the multiply-accumulates of every convolution, per RGB input pixel.

    Counted on a shape-only (meta device) copy, so it costs nothing and holds for
    any architecture: this is what the Tensor Core share divides by.
    """
    shapes_only = copy.deepcopy(network).to("meta")
    total = 0

    def count(conv: torch.nn.Conv2d, inputs: object, output: torch.Tensor) -> None:
        nonlocal total
        kernel = conv.kernel_size[0] * conv.kernel_size[1]
        total += 2 * output.numel() * conv.in_channels // conv.groups * kernel

    for module in shapes_only.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(count)
    with torch.no_grad():
        shapes_only(torch.empty(1, 3, side, side, device="meta"))
    return total / side**2


def load_network(model: str, random_weights: bool) -> tuple[torch.nn.Module, str]:
    """The packaged weights, or (asked for, or when they cannot be had) random ones."""
    registry_name, shape = MODELS[model]
    if not random_weights:
        try:
            from upscale.loading import load_model

            return load_model(registry_name, offline=True), "packaged weights"
        except Exception as exc:  # noqa: BLE001 - say why and measure the shape anyway
            print(f"  ({registry_name}: no packaged weights here: {exc}; random weights)")
    from upscale.archs.rrdbnet import RRDBNet
    from upscale.archs.srvgg import SRVGGNetCompact

    torch.manual_seed(0)
    if shape == "rrdbnet":
        return RRDBNet().eval(), "random weights"
    return SRVGGNetCompact(num_feat=64, num_conv=16, scale=4, act_type="prelu").eval(), \
        "random weights"


def natural_image(width: int, height: int) -> np.ndarray:
    """Set5's baby tiled to the size when present (network speed and fp16 error depend on the
    content a little), else seeded noise; H×W×3 uint8."""
    path = SET5 / "baby.png"
    if path.is_file():
        from upscale.imaging.read import read_image

        image = read_image(path)[..., :3]
        reps = (math.ceil(height / image.shape[0]), math.ceil(width / image.shape[1]), 1)
        return np.ascontiguousarray(np.tile(image, reps)[:height, :width])
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def card_peak_tflops(device: torch.device, override: float | None) -> float | None:
    if override is not None:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_FP16_TFLOPS if key in name), None)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return (f"{props.name} ({props.total_memory / 2**30:.0f} GiB, compute capability "
                f"{props.major}.{props.minor}, CUDA {torch.version.cuda}, "
                f"cuDNN {torch.backends.cudnn.version()})")
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def peak_memory(device: torch.device) -> Iterator[list[float | None]]:
    """Yields a one-item list that holds the peak allocated MiB after the block (None on CPU)."""
    result: list[float | None] = [None]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    yield result
    if device.type == "cuda":
        result[0] = torch.cuda.max_memory_allocated(device) / 2**20


def best_seconds(run: Callable[[], object], repeats: int, device: torch.device) -> float:
    best = math.inf
    for _ in range(repeats):
        synchronize(device)
        started = time.perf_counter()
        run()
        synchronize(device)
        best = min(best, time.perf_counter() - started)
    return best


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def measure_image(prepared: PreparedNetwork, model: str, size: tuple[int, int], precision: str,
                  repeats: int) -> tuple[Row, np.ndarray]:
    """One (model, size, precision) cell, and the float output for the fp16-vs-fp32 PSNR."""
    width, height = size
    image = natural_image(width, height)
    run_network(prepared, image)  # warm-up: probe, cuDNN's algorithm choice, any OOM learning
    tile = tile_side(prepared.for_pixels(image.dtype), 0, height, width,
                     default_tile_pad(prepared))
    with peak_memory(prepared.device) as peak:
        seconds = best_seconds(lambda: run_network(prepared, image), repeats, prepared.device)
    as_float = run_network(prepared, image.astype(np.float32) / 255.0)
    note = "overflowed: fell back to fp32" if prepared.overflowed else ""
    return Row(model, size, precision, 1.0 / seconds, tile, peak[0], note=note), as_float


class ChannelsLast(torch.nn.Module):
    """The same module with NHWC weights and input, as Tensor Cores prefer."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.inner = module.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.contiguous(memory_format=torch.channels_last))


@contextlib.contextmanager
def cudnn_benchmark() -> Iterator[None]:
    saved = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = saved


def measure_variants(network: torch.nn.Module, model: str, size: tuple[int, int], device: str,
                     precision: str, repeats: int) -> list[tuple[str, float]]:
    """fps of the default path, with cudnn.benchmark, and with channels_last (plain modules)."""
    width, height = size
    image = natural_image(width, height)
    results = []
    for name in ("default", "cudnn.benchmark", "channels_last"):
        prepared = prepare_network(network, device, precision, optimize=False)
        if name == "channels_last":
            prepared.module = ChannelsLast(prepared.module)
        with cudnn_benchmark() if name == "cudnn.benchmark" else contextlib.nullcontext():
            run_network(prepared, image)
            seconds = best_seconds(lambda p=prepared: run_network(p, image), repeats,
                                   prepared.device)
        results.append((name, 1.0 / seconds))
        print(f"  {model} {width}x{height} {precision} {name}: {1.0 / seconds:.3f} fps")
    return results


def make_clip(path: Path, size: tuple[int, int], seconds: float) -> None:
    from upscale.video.ffmpeg.binary import ffmpeg_exe

    width, height = size
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size={width}x{height}:rate=24:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=duration={seconds}", "-c:v", "libx264",
                    "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)],
                   check=True)


def measure_video(network: torch.nn.Module, device: str, precision: str, size: tuple[int, int],
                  seconds: float, memory_frames: int) -> dict:
    """End-to-end fps of the CLI's video job against the same frame function on decoded frames."""
    from upscale.video import frame_upscaler, probe, upscale_video
    from upscale.video.decode import FrameReader

    prepared = prepare_network(network, device, precision, optimize=device != "cpu")
    batch = 4 if prepared.device.type == "cuda" else 1  # upscale_video's own choice
    upscale_frames = frame_upscaler(prepared)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "clip.mp4"
        make_clip(source, size, seconds)
        info = probe(source)
        reader = FrameReader(info, "rgb24")
        frames = []
        for chunk in reader.batches(batch):
            frames.append(chunk)
            if sum(len(f) for f in frames) >= memory_frames:
                break
        reader.kill()
        upscale_frames(frames[0])  # warm-up, not timed
        synchronize(prepared.device)
        started = time.perf_counter()
        for chunk in frames:
            upscale_frames(chunk)
        synchronize(prepared.device)
        in_memory = sum(len(f) for f in frames) / (time.perf_counter() - started)
        started = time.perf_counter()
        upscale_video(prepared, source, Path(tmp) / "clip_x4.mp4", overwrite=True)
        total = info.frame_count or round(seconds * 24)
        end_to_end = total / (time.perf_counter() - started)
    return {"size": size, "frames": total, "memory_frames": sum(len(f) for f in frames),
            "batch": batch, "in_memory": in_memory, "end_to_end": end_to_end}


def fmt(value: float | None, spec: str, missing: str = "n/a") -> str:
    if value is None:
        return missing
    return "inf" if math.isinf(value) else format(value, spec)


def report(args: argparse.Namespace, device: torch.device, origins: dict[str, str],
           rows: list[Row], variants: dict, video: dict | None, peak: float | None) -> str:
    today = datetime.date.today().isoformat()
    lines = [f"## {today}: GPU path (bench/gpu.py, issue 15): {device_name(device)}", "",
             f"torch {torch.__version__}; weights: "
             + ", ".join(f"{m} {o}" for m, o in origins.items())
             + f"; best of {args.repeats}; fps = whole images (input size) per second through "
             "run_network, automatic tiles; PSNR = fp16's float output against fp32's. "
             f"Tensor Core peak: {fmt(peak, '.4g', 'unknown (use --peak-tflops)')} TFLOPS "
             "dense fp16.", "",
             "| model | input | precision | fps | tile | peak GPU MiB | fp16 vs fp32 dB "
             "| share of fp16 Tensor Core peak | Real-ESRGAN V100 fps | note |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        published = PUBLISHED_V100_FPS.get(row.size) if row.model == "animevideov3" else None
        share = "" if row.tensor_core_share is None else f"{100 * row.tensor_core_share:.2f}%"
        lines.append(
            f"| {row.model} | {row.size[0]}x{row.size[1]} | {row.precision} | {row.fps:.3f} "
            f"| {row.tile} | {fmt(row.peak_mib, '.0f')} | {fmt(row.psnr_db, '.1f', '')} "
            f"| {share} | {fmt(published, '.1f', '')} "
            f"| {row.note} |")
    if variants:
        lines += ["", "Variants (plain modules, kept in the library only if they help):", "",
                  "| model | input | precision | variant | fps | vs default |",
                  "|---|---|---|---|---|---|"]
        for (model, size, precision), results in variants.items():
            base = results[0][1]
            lines += [f"| {model} | {size[0]}x{size[1]} | {precision} | {name} | {fps:.3f} "
                      f"| {fps / base:.2f}x |" for name, fps in results]
    if video:
        ratio = video["in_memory"] / video["end_to_end"]
        width, height = video["size"]
        lines += ["", f"Video: animevideov3 {args.video_precision}, {width}x{height} clip, "
                  f"{video['frames']} frames, batch {video['batch']}, upscale_video with default "
                  f"encoder settings; in memory over the first {video['memory_frames']} frames.",
                  "", "| frames in memory fps | end to end fps | overhead (ratio) |",
                  "|---|---|---|",
                  f"| {video['in_memory']:.3f} | {video['end_to_end']:.3f} | {ratio:.2f} |"]
    return "\n".join(lines) + "\n"


def write_results(path: Path, section: str) -> None:
    """Put ``section`` between this script's markers, replacing the previous run's."""
    text = path.read_text() if path.exists() else ""
    block = f"{BEGIN}\n{section}{END}\n"
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END) + "\n?", lambda _: block, text,
                      flags=re.S)
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block
    path.write_text(text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if cuda else "cpu")
    parser.add_argument("--models", default="x4plus,animevideov3")
    parser.add_argument("--sizes", default="640x480,1280x720,1920x1080")
    parser.add_argument("--precisions", default=None,
                        help="default: fp16,fp32 on CUDA, fp32 elsewhere")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the card's dense fp16 Tensor Core peak, if not in the table")
    parser.add_argument("--variants", action=argparse.BooleanOptionalAction, default=None,
                        help="measure channels_last and cudnn.benchmark (default: on CUDA)")
    parser.add_argument("--clip", default="1920x1080", help="video clip size")
    parser.add_argument("--clip-seconds", type=float, default=60.0, help="0 skips the video")
    parser.add_argument("--memory-frames", type=int, default=240,
                        help="frames held in memory for the in-memory fps")
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = parser.parse_args(argv)
    on_cuda = args.device.startswith("cuda")
    args.precisions = (args.precisions or ("fp16,fp32" if on_cuda else "fp32")).split(",")
    args.variants = on_cuda if args.variants is None else args.variants
    args.video_precision = args.precisions[0]
    return args


def main(argv: list[str] | None = None) -> str:
    args = parse_args(argv)
    device = torch.device(args.device)
    peak = card_peak_tflops(device, args.peak_tflops)
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    rows: list[Row] = []
    variants: dict = {}
    origins: dict[str, str] = {}
    networks: dict[str, torch.nn.Module] = {}
    for model in args.models.split(","):
        network, origins[model] = load_network(model, args.random_weights)
        networks[model] = network
        flops_per_pixel = flops_per_input_pixel(network)
        for size in sizes:
            outputs = {}
            for precision in args.precisions:
                prepared = prepare_network(network, args.device, precision,
                                           optimize=device.type != "cpu")
                row, outputs[precision] = measure_image(prepared, model, size, precision,
                                                        args.repeats)
                if peak:  # the issue's goal is for x4plus in fp16; the rest is context
                    flops = flops_per_pixel * size[0] * size[1] * row.fps
                    row.tensor_core_share = flops / (peak * 1e12)
                rows.append(row)
                print(f"  {model} {size[0]}x{size[1]} {precision}: {row.fps:.3f} fps, "
                      f"tile {row.tile}, peak {fmt(row.peak_mib, '.0f')} MiB")
                del prepared
            if "fp32" in outputs:
                for row in rows[-len(args.precisions):]:
                    if row.precision != "fp32":
                        row.psnr_db = psnr(outputs[row.precision], outputs["fp32"])
        if args.variants:
            size = sizes[min(1, len(sizes) - 1)]
            variants[(model, size, args.precisions[0])] = measure_variants(
                network, model, size, args.device, args.precisions[0], args.repeats)
    video = None
    if args.clip_seconds > 0:
        network = networks.get("animevideov3") or load_network("animevideov3",
                                                              args.random_weights)[0]
        video = measure_video(network, args.device, args.video_precision, parse_size(args.clip),
                              args.clip_seconds, args.memory_frames)
    section = report(args, device, origins, rows, variants, video, peak)
    write_results(args.results, section)
    print(section)
    return section


if __name__ == "__main__":
    main()
