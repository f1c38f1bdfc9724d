"""GPU inference, measured: fps, precision, memory, tiles, the output's way back, video, tests.

A GPU is lent only now and then, for minutes, so one command must give every number
at the first try, in stages that each write their table as soon as they finish (a run
cut short still leaves what it measured):

- ``fps``: x4plus and animevideov3 through ``run_network`` (the whole user path:
  pixels to the device, automatic tiles, pixels back), best of ``--repeats``, per
  size and precision; the tile the engine chose, its memory estimate beside the
  measured peak (the estimate must not be below it), and the share of the card's
  dense fp16 Tensor Core peak (``flops_per_input_pixel`` x pixels x fps / peak);
- ``precision``: fp16 and bf16 against fp32 in dB and in 8-bit levels, on float
  input and output so that rounding does not hide the difference;
- ``paste``: the network's output for the largest size crossing back and pasted into
  the image, against a plain contiguous copy of the same bytes, and against the
  channel-first view that crossed back before issue 20 (a strided paste);
- ``video``: a ``--clip-seconds`` clip at ``--clip`` through ``upscale_video``
  (decode, network, encode, mux: what the CLI runs) against the same frames in memory;
- ``variants``: channels_last and cudnn.benchmark against the default (full run on CUDA);
- ``tests``: the project's GPU-related tests, run on this machine.

    python bench/gpu.py --quick          # a lent card: everything the issue asks, < 5 min
    python bench/gpu.py                  # the full run (more sizes and repeats, variants)
    python bench/gpu.py --quick --device cpu --sizes 32x24 --clip 32x24 --clip-seconds 0.5 \\
        --tests tests/test_run_pixels.py --results /tmp/gpu.md   # the suite's smoke run

On a lent machine, which has PyTorch but not this project's other dependencies:
``bash bench/gpu_device.sh`` (it says how). Tables go into ``--results`` between markers
per device kind, replacing that kind's last run. On a CPU only fp32 runs unless
``--precisions`` asks for more (fp16 there is emulated, hundreds of times slower), and
the plain PyTorch modules run: the CPU's own engines are measured by bench/speed.py.
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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from upscale.archs import describe  # noqa: E402
from upscale.model import ModelDescriptor  # noqa: E402
from upscale.run import PreparedNetwork, prepare_network, run_network  # noqa: E402
from upscale.run.engine import bytes_per_pixel, default_tile_pad, tile_side  # noqa: E402
from upscale.run.pixels import from_network  # noqa: E402

# Set5's baby (beside the checkout, or carried to a lent machine by bench/gpu_device.sh)
NATURAL_IMAGES = [REPO.parent / "shared" / "data" / "set5" / "baby.png",
                  REPO / ".device" / "baby.png"]
STAGES = ("fps", "precision", "paste", "video", "variants", "tests")
# The tests of device, precision, memory, pixels, tiles and batches (test_bench_gpu.py is
# this script's own CPU smoke test, and needs an ffmpeg a lent machine may not have).
GPU_TESTS = ["tests/test_precision.py", "tests/test_run_pixels.py", "tests/test_run_oom.py",
             "tests/test_run_device_memory.py", "tests/test_run_frames.py",
             "tests/test_tiling.py"]

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
# What --quick means: the sizes, few repeats, a 2-second 720p clip, tests included.
QUICK = {"sizes": "1280x720,1920x1080", "repeats": 2, "clip": "1280x720", "clip_seconds": 2.0,
         "memory_frames": 24}
FULL = {"sizes": "640x480,1280x720,1920x1080", "repeats": 3, "clip": "1280x720",
        "clip_seconds": 4.0, "memory_frames": 48}


@dataclass
class Row:
    model: str
    size: tuple[int, int]
    precision: str
    fps: float
    tile: int
    estimate_mib: float
    peak_mib: float | None
    tensor_core_share: float | None = None
    note: str = ""


@dataclass
class Report:
    """What the stages measured so far; rendered into the results file after each stage."""

    device: torch.device
    header: str
    rows: list[Row] = field(default_factory=list)
    accuracy: list[tuple[str, tuple[int, int], str, float, float]] = field(default_factory=list)
    paste: dict | None = None
    video: dict | None = None
    variants: dict = field(default_factory=dict)
    tests: str | None = None


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


def load_network(model: str, random_weights: bool) -> tuple[ModelDescriptor, str]:
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
        return describe(RRDBNet().eval()), "random weights"
    network = SRVGGNetCompact(num_feat=64, num_conv=16, scale=4, act_type="prelu").eval()
    return describe(network), "random weights"


def natural_image(width: int, height: int) -> tuple[np.ndarray, str]:
    """Set5's baby tiled to the size where it can be found (speed and fp16 error depend on
    the content a little), else smooth shapes with grain; H×W×3 uint8 and what it is."""
    path = next((p for p in NATURAL_IMAGES if p.is_file()), None)
    if path is not None:
        from upscale.imaging.read import read_image

        image = read_image(path)[..., :3]
        reps = (math.ceil(height / image.shape[0]), math.ceil(width / image.shape[1]), 1)
        return np.ascontiguousarray(np.tile(image, reps)[:height, :width]), "Set5 baby, tiled"
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rings = 0.5 + 0.5 * np.sin(np.hypot(x - width / 3, y - height / 2) / 9.0)
    image = np.stack([x / max(width, 1), rings, y / max(height, 1)], axis=-1) * 220
    grain = np.random.default_rng(0).normal(0, 6, image.shape)
    return np.clip(image + grain, 0, 255).astype(np.uint8), "synthetic shapes (no Set5 here)"


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


def prepare(model: ModelDescriptor, device: str, precision: str) -> PreparedNetwork:
    """The network as the CLI prepares it on a GPU; plain modules on a CPU, where a half
    precision asked for by name is allowed (this is a measurement, not a default)."""
    on_cpu = torch.device(device).type == "cpu"
    return prepare_network(model, device, precision, optimize=not on_cpu, allow_slow_half=on_cpu)


def tile_estimate_mib(prepared: PreparedNetwork, tile: int, width: int, height: int) -> float:
    """What the engine's estimate says the largest tile of this image needs, in MiB."""
    pad = default_tile_pad(prepared)
    rows, cols = (min(tile + 2 * pad, side) for side in (height, width))
    return rows * cols * bytes_per_pixel(prepared) / 2**20


def measure_image(prepared: PreparedNetwork, model: str, image: np.ndarray, precision: str,
                  repeats: int) -> Row:
    """One (model, size, precision) cell of the fps table."""
    height, width = image.shape[:2]
    started_in = prepared.dtype
    run_network(prepared, image)  # warm-up: probe, cuDNN's algorithm choice, any OOM learning
    tile = tile_side(prepared.for_pixels(image.dtype), 0, height, width,
                     default_tile_pad(prepared))
    with peak_memory(prepared.device) as peak:
        seconds = best_seconds(lambda: run_network(prepared, image), repeats, prepared.device)
    note = "overflowed: fell back to fp32" if prepared.dtype != started_in else ""
    if prepared.tile_limit is not None:
        note += f" out of memory once: tiles now <= {prepared.tile_limit}"
    return Row(model, (width, height), precision, 1.0 / seconds, tile,
               tile_estimate_mib(prepared, tile, width, height), peak[0], note=note.strip())


def float_output(prepared: PreparedNetwork, image: np.ndarray) -> np.ndarray:
    return run_network(prepared, image.astype(np.float32) / 255.0)


def stage_fps(args: argparse.Namespace, report: Report, models: dict[str, ModelDescriptor],
              images: dict, peak: float | None) -> None:
    for name, model in models.items():
        flops_per_pixel = flops_per_input_pixel(model.module)
        for size, image in images.items():
            for precision in args.precisions:
                prepared = prepare(model, args.device, precision)
                row = measure_image(prepared, name, image, precision, args.repeats)
                if peak:  # the goal (50 %) is for x4plus in fp16; the rest is context
                    row.tensor_core_share = flops_per_pixel * size[0] * size[1] * row.fps / (
                        peak * 1e12)
                report.rows.append(row)
                print(f"  {name} {size[0]}x{size[1]} {precision}: {row.fps:.3f} fps, tile "
                      f"{row.tile}, estimate {row.estimate_mib:.0f} MiB, peak "
                      f"{fmt(row.peak_mib, '.0f')} MiB {row.note}")
                del prepared
                release(args.device)


def stage_precision(args: argparse.Namespace, report: Report,
                    models: dict[str, ModelDescriptor], images: dict) -> None:
    """fp16 and bf16 against fp32 on the first size: float in, float out."""
    size, image = next(iter(images.items()))
    for name, model in models.items():
        reference = float_output(prepare(model, args.device, "fp32"), image)
        for precision in args.half_precisions:
            try:
                got = float_output(prepare(model, args.device, precision), image)
            except Exception as error:  # noqa: BLE001 - a card without bf16 says so, and on
                print(f"  {name} {precision}: not measured ({error})")
                continue
            levels = float(np.abs(got - reference).max() * 255)
            report.accuracy.append((name, size, precision, psnr(got, reference), levels))
            print(f"  {name} {size[0]}x{size[1]} {precision} vs fp32: "
                  f"{report.accuracy[-1][3]:.1f} dB, max {levels:.2f} levels")
        release(args.device)


def stage_paste(args: argparse.Namespace, report: Report, width: int, height: int) -> None:
    """The x4 output of the largest size, from the device's N×C×H×W tensor into the image:
    through ``from_network`` then pasted (what the engine does), the channel-first view of
    before issue 20 then pasted, and a contiguous copy of the same bytes (the floor)."""
    device = torch.device(args.device)
    out_h, out_w = 4 * height, 4 * width
    output = torch.rand(1, 3, out_h, out_w, device=device)
    image = np.zeros((out_h, out_w, 3), np.uint8)
    contiguous = np.ascontiguousarray(image + 1)

    def now_path() -> None:
        image[...] = from_network(output, np.uint8)[0]

    def before_path() -> None:  # issue 20's fault: the permuted tensor crossed as a strided view
        with torch.inference_mode():
            pixels = output.clamp(0, 1).mul(255).round_().permute(0, 2, 3, 1).to(torch.uint8)
            image[...] = pixels.cpu().numpy()[0]

    timings = {}
    for name, run in (("from_network + paste (now)", now_path),
                      ("channel-first view + paste (before)", before_path),
                      ("contiguous copy of the same bytes", lambda: np.copyto(image, contiguous))):
        run()
        timings[name] = best_seconds(run, max(args.repeats, 3), device)
    split = {}
    for name, run in (("now", lambda: from_network(output, np.uint8)),
                      ("before", lambda: output.clamp(0, 1).mul(255).round_()
                       .permute(0, 2, 3, 1).to(torch.uint8).cpu().numpy())):
        crossed = run()
        split[f"paste only ({name})"] = best_seconds(
            lambda c=crossed: np.copyto(image, c[0]), max(args.repeats, 3), device)
    report.paste = {"size": (out_w, out_h), "timings": timings | split}
    for name, seconds in report.paste["timings"].items():
        print(f"  paste {out_w}x{out_h}: {name}: {1000 * seconds:.1f} ms")


def make_clip(path: Path, size: tuple[int, int], seconds: float) -> None:
    from upscale.video.ffmpeg.binary import ffmpeg_exe

    width, height = size
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size={width}x{height}:rate=24:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=duration={seconds}", "-c:v", "libx264",
                    "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)],
                   check=True)


def stage_video(args: argparse.Namespace, report: Report, model: ModelDescriptor) -> None:
    """End-to-end fps of the CLI's video job against the same frame function on decoded
    frames (animevideov3, the first precision)."""
    from upscale.video import default_batch_size, frame_upscaler, probe, upscale_video
    from upscale.video.decode import FrameReader

    prepared = prepare(model, args.device, args.precisions[0])
    batch = default_batch_size(str(prepared.device))
    upscale_frames = frame_upscaler(prepared, prepared.model.output_scale)
    size = parse_size(args.clip)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "clip.mp4"
        try:
            make_clip(source, size, args.clip_seconds)
        except Exception as error:  # noqa: BLE001 - a machine without ffmpeg: say so, go on
            report.video = {"skipped": f"no clip could be made here: {error}"}
            print(f"  video: skipped ({error})")
            return
        info = probe(source)
        reader = FrameReader(info, "rgb24")
        frames = []
        for chunk in reader.batches(batch):
            frames.append(chunk)
            if sum(len(f) for f in frames) >= args.memory_frames:
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
        total = info.frame_count or round(args.clip_seconds * 24)
        end_to_end = total / (time.perf_counter() - started)
    report.video = {"size": size, "frames": total, "memory_frames": sum(len(f) for f in frames),
                    "batch": batch, "in_memory": in_memory, "end_to_end": end_to_end,
                    "precision": args.precisions[0]}
    print(f"  video {size[0]}x{size[1]}: {in_memory:.2f} fps in memory, "
          f"{end_to_end:.2f} fps end to end")


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


def stage_variants(args: argparse.Namespace, report: Report, models: dict[str, ModelDescriptor],
                   images: dict) -> None:
    """fps of the default path, with cudnn.benchmark, and with channels_last (plain modules),
    at the second size."""
    size, image = list(images.items())[min(1, len(images) - 1)]
    precision = args.precisions[0]
    for name, model in models.items():
        results = []
        for variant in ("default", "cudnn.benchmark", "channels_last"):
            prepared = prepare_network(model, args.device, precision, optimize=False,
                                       allow_slow_half=torch.device(args.device).type == "cpu")
            if variant == "channels_last":
                prepared.module = ChannelsLast(prepared.module)
            with cudnn_benchmark() if variant == "cudnn.benchmark" else contextlib.nullcontext():
                run_network(prepared, image)
                seconds = best_seconds(lambda p=prepared: run_network(p, image), args.repeats,
                                       prepared.device)
            results.append((variant, 1.0 / seconds))
            print(f"  {name} {size[0]}x{size[1]} {precision} {variant}: {1.0 / seconds:.3f} fps")
        report.variants[(name, size, precision)] = results
        release(args.device)


def stage_tests(args: argparse.Namespace, report: Report) -> None:
    """The project's GPU-related tests on this machine, in a process of their own."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *args.tests], cwd=REPO, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    summary = lines[-1] if lines else done.stderr.strip().splitlines()[-1:]
    failures = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    report.tests = (f"`pytest {' '.join(args.tests)}`: {summary} "
                    f"(exit {done.returncode}, {time.perf_counter() - started:.0f} s)"
                    + "".join(f"\n    - {line}" for line in failures[:20]))
    print(f"  tests: {summary}")


def release(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.empty_cache()


def fmt(value: float | None, spec: str, missing: str = "n/a") -> str:
    if value is None:
        return missing
    return "inf" if math.isinf(value) else format(value, spec)


def render(report: Report) -> str:
    lines = [report.header, ""]
    if report.rows:
        lines += ["| model | input | precision | fps | tile | estimate MiB | peak MiB "
                  "| share of fp16 Tensor Core peak | Real-ESRGAN V100 fps | note |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for row in report.rows:
            published = PUBLISHED_V100_FPS.get(row.size) if row.model == "animevideov3" else None
            share = "" if row.tensor_core_share is None else f"{100 * row.tensor_core_share:.2f}%"
            lines.append(
                f"| {row.model} | {row.size[0]}x{row.size[1]} | {row.precision} | {row.fps:.3f} "
                f"| {row.tile} | {row.estimate_mib:.4g} | {fmt(row.peak_mib, '.4g')} | {share} "
                f"| {fmt(published, '.1f', '')} | {row.note} |")
        lines.append("")
    if report.accuracy:
        lines += ["Half precision against fp32 (float input and output):", "",
                  "| model | input | precision | PSNR vs fp32 dB | max difference, 8-bit levels |",
                  "|---|---|---|---|---|"]
        lines += [f"| {m} | {s[0]}x{s[1]} | {p} | {fmt(db, '.1f')} | {levels:.2f} |"
                  for m, s, p, db, levels in report.accuracy]
        lines.append("")
    if report.paste:
        width, height = report.paste["size"]
        floor = report.paste["timings"]["contiguous copy of the same bytes"]
        lines += [f"The network's output ({width}x{height}, uint8) back into the image, best of "
                  "several:", "", "| path | ms | vs a contiguous copy |", "|---|---|---|"]
        lines += [f"| {name} | {1000 * seconds:.3g} | {seconds / floor:.1f}x |"
                  for name, seconds in report.paste["timings"].items()]
        lines.append("")
    if report.video and "skipped" in report.video:
        lines += [f"Video: skipped ({report.video['skipped']}).", ""]
    elif report.video:
        video = report.video
        width, height = video["size"]
        lines += [f"Video: animevideov3 {video['precision']}, {width}x{height} clip, "
                  f"{video['frames']} frames, batch {video['batch']}, upscale_video with "
                  f"default encoder settings; in memory over the first "
                  f"{video['memory_frames']} frames.", "",
                  "| frames in memory fps | end to end fps | overhead (ratio) |", "|---|---|---|",
                  f"| {video['in_memory']:.3f} | {video['end_to_end']:.3f} "
                  f"| {video['in_memory'] / video['end_to_end']:.2f} |", ""]
    if report.variants:
        lines += ["Variants (plain modules, kept in the library only if they help):", "",
                  "| model | input | precision | variant | fps | vs default |",
                  "|---|---|---|---|---|---|"]
        for (model, size, precision), results in report.variants.items():
            base = results[0][1]
            lines += [f"| {model} | {size[0]}x{size[1]} | {precision} | {name} | {fps:.3f} "
                      f"| {fps / base:.2f}x |" for name, fps in results]
        lines.append("")
    if report.tests:
        lines += [f"Tests: {report.tests}", ""]
    return "\n".join(lines)


def markers(device: torch.device) -> tuple[str, str]:
    """This script's section markers for a device kind: a CPU run never replaces a GPU's."""
    return (f"<!-- bench/gpu.py {device.type}: begin -->",
            f"<!-- bench/gpu.py {device.type}: end -->")


def write_results(path: Path, section: str, device: torch.device) -> None:
    """Put ``section`` between this device kind's markers, replacing its previous run's."""
    begin, end = markers(device)
    text = path.read_text() if path.exists() else ""
    block = f"{begin}\n{section}{end}\n"
    if begin in text and end in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end) + "\n?", lambda _: block, text,
                      flags=re.S)
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block
    path.write_text(text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="what a lent card must tell first: the issue's sizes, 2 repeats, "
                        "a 2 s 720p clip, the GPU tests; under 5 minutes on one GPU")
    parser.add_argument("--device", default="cuda" if cuda else "cpu")
    parser.add_argument("--models", default="x4plus,animevideov3")
    parser.add_argument("--sizes", default=None, help=f"default: {FULL['sizes']}; "
                        f"--quick: {QUICK['sizes']}")
    parser.add_argument("--precisions", default=None,
                        help="for the fps table; default: fp16,fp32 on CUDA, fp32 elsewhere")
    parser.add_argument("--half-precisions", default=None,
                        help="measured against fp32 in dB; default: fp16,bf16 on CUDA, "
                        "the half ones of --precisions elsewhere")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the card's dense fp16 Tensor Core peak, if not in the table")
    parser.add_argument("--stages", default=None,
                        help=f"any of {','.join(STAGES)}; default: all but variants with "
                        "--quick or off CUDA")
    parser.add_argument("--variants", action=argparse.BooleanOptionalAction, default=None,
                        help="add or leave out the variants stage")
    parser.add_argument("--clip", default=None, help="video clip size (default 1280x720)")
    parser.add_argument("--clip-seconds", type=float, default=None, help="0 skips the video")
    parser.add_argument("--memory-frames", type=int, default=None,
                        help="frames held in memory for the in-memory fps")
    parser.add_argument("--tests", nargs="*", default=GPU_TESTS,
                        help="test files for the tests stage")
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    on_cuda = args.device.startswith("cuda")
    args.precisions = (args.precisions or ("fp16,fp32" if on_cuda else "fp32")).split(",")
    halves = args.half_precisions or ("fp16,bf16" if on_cuda else ",".join(
        p for p in args.precisions if p != "fp32"))
    args.half_precisions = [p for p in halves.split(",") if p]
    stages = args.stages or ",".join(s for s in STAGES
                                     if s != "variants" or (on_cuda and not args.quick))
    args.stages = [s for s in stages.split(",") if s]
    if args.variants is not None and args.variants != ("variants" in args.stages):
        args.stages = ([*args.stages, "variants"] if args.variants
                       else [s for s in args.stages if s != "variants"])
    unknown = set(args.stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stages {sorted(unknown)}; use {','.join(STAGES)}")
    if args.clip_seconds <= 0 and "video" in args.stages:
        args.stages.remove("video")
    return args


def main(argv: list[str] | None = None) -> str:
    started = time.perf_counter()
    args = parse_args(argv)
    device = torch.device(args.device)
    peak = card_peak_tflops(device, args.peak_tflops)
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    models, origins = {}, {}
    if set(args.stages) & {"fps", "precision", "video", "variants"}:
        for name in args.models.split(","):
            models[name], origins[name] = load_network(name, args.random_weights)
    images = {}
    for size in sizes:
        images[size], content = natural_image(*size)
    header = (f"## {datetime.date.today().isoformat()}: GPU path (bench/gpu.py"
              f"{' --quick' if args.quick else ''}, issue 20): {device_name(device)}\n\n"
              f"torch {torch.__version__}; weights: "
              + (", ".join(f"{m} {o}" for m, o in origins.items()) or "none")
              + f"; input: {content}; best of {args.repeats}; fps = whole images (input size) "
              "per second through run_network, automatic tiles; estimate = the engine's memory "
              "estimate for its largest tile (it must not be below the peak); Tensor Core peak: "
              f"{fmt(peak, '.4g', 'unknown (use --peak-tflops)')} TFLOPS dense fp16.")
    report = Report(device, header)
    steps = {
        "fps": lambda: stage_fps(args, report, models, images, peak),
        "precision": lambda: stage_precision(args, report, models, images),
        "paste": lambda: stage_paste(args, report, *max(sizes, key=lambda s: s[0] * s[1])),
        "video": lambda: stage_video(args, report, models.get("animevideov3")
                                     or load_network("animevideov3", args.random_weights)[0]),
        "variants": lambda: stage_variants(args, report, models, images),
        "tests": lambda: stage_tests(args, report),
    }
    for stage in args.stages:
        print(f"{stage} ({time.perf_counter() - started:.0f} s in)")
        steps[stage]()
        write_results(args.results, render(report), device)  # a run cut short keeps this much
    section = render(report) + f"\nWhole run: {time.perf_counter() - started:.0f} s.\n"
    write_results(args.results, section, device)
    print(section)
    return section


if __name__ == "__main__":
    main()
