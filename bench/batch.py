"""Folder throughput: one batch run against the two ways people loop over files.

Measured side by side in one run, on the same images and the same network:

* folder   - ``upscale_folder``: model loaded once, reading/writing overlapped
* serial   - the same in-process loop without prefetch (read, upscale, write)
* process  - ``python -m upscale FILE`` once per file, a fresh process each
             time (what a user scripting Real-ESRGAN over a folder does)

    python bench/batch.py                 # 24 images of 256x256, realesr-animevideov3
    python bench/batch.py --count 8 --size 128 --device cuda

Only the ratios mean anything; absolute numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from upscale.imaging import read_image, write_image  # noqa: E402


def make_images(folder: Path, count: int, size: int, seed: int = 0) -> list[Path]:
    """Smooth colour fields with fine noise: PNGs that cost what real ones cost to code."""
    import cv2

    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        coarse = rng.random((size // 16, size // 16, 3)).astype(np.float32)
        smooth = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
        noisy = np.clip(smooth + rng.normal(0, 0.03, smooth.shape), 0, 1)
        paths.append(write_image(folder / f"img{index:03d}.png",
                                 (noisy * 255 + 0.5).astype(np.uint8)))
    return paths


def network_and_spec(name: str, workdir: Path):
    """The real weights if they load, else a random-init network of the same shape."""
    try:
        from upscale.loading import load_model

        return load_model(name), name, "real weights"
    except Exception as exc:  # noqa: BLE001 - no weights offline: same shape, random init
        import torch
        from safetensors.torch import save_file

        from upscale.archs import describe
        from upscale.archs.srvgg import SRVGGNetCompact

        torch.manual_seed(0)
        network = SRVGGNetCompact(num_feat=64, num_conv=16, scale=4, act_type="prelu").eval()
        path = workdir / f"{name}-random.safetensors"
        save_file(network.state_dict(), str(path))
        return describe(network), str(path), f"random init ({type(exc).__name__}: {exc})"


def time_folder(src: Path, out: Path, network, device: str, prefetch: int) -> float:
    from rich.console import Console

    from upscale.batch import upscale_folder
    from upscale.request import make_request

    shutil.rmtree(out, ignore_errors=True)
    quiet = Console(file=io.StringIO())
    started = time.perf_counter()
    request = make_request(src, output=out, model="the bench's network", device=device,
                           quiet=True)
    code = upscale_folder(request, load_network=lambda: network, prefetch=prefetch,
                          stdout=quiet, stderr=quiet)
    elapsed = time.perf_counter() - started
    assert code == 0, "the folder run failed"
    return elapsed


def time_serial(paths: list[Path], out: Path, network, device: str) -> float:
    from upscale.pipeline import upscale_image
    from upscale.run import prepare_network

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.perf_counter()
    prepared = prepare_network(network, device=device)
    for path in paths:
        result = upscale_image(prepared, read_image(path))
        write_image(out / f"{path.stem}_x4.png", result)
    return time.perf_counter() - started


def time_processes(paths: list[Path], out: Path, model_spec: str, device: str) -> float:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.perf_counter()
    for path in paths:
        result = subprocess.run(
            [sys.executable, "-m", "upscale", str(path), "-o", f"{out}/", "-m", model_spec,
             "--device", device, "-q"], capture_output=True, text=True, cwd=REPO)
        if result.returncode != 0:
            raise RuntimeError(f"python -m upscale failed: {result.stderr.strip()}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--model", default="realesr-animevideov3")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=2,
                        help="in-process runs per method (alternated); the best counts")
    args = parser.parse_args()

    import torch

    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        src = work / "in"
        paths = make_images(src, args.count, args.size)
        network, spec, weights = network_and_spec(args.model, work)
        print(f"{args.count} images {args.size}x{args.size}, {args.model} ({weights}), "
              f"device {args.device}, torch threads {torch.get_num_threads()}")
        time_serial(paths[:1], work / "warm", network, args.device)  # first-call costs

        folder, serial = [], []
        for _ in range(args.repeats):
            serial.append(time_serial(paths, work / "serial", network, args.device))
            folder.append(time_folder(src, work / "folder", network, args.device, prefetch=2))
        try:
            process = time_processes(paths, work / "process", spec, args.device)
        except RuntimeError as exc:
            process = None
            print(f"process loop unavailable: {exc}")

        def line(label: str, seconds: float | None) -> None:
            if seconds is None:
                return
            print(f"{label:<34} {seconds:8.2f} s  {args.count / seconds:7.2f} images/s")

        line("folder run (prefetch 2)", min(folder))
        line("in-process loop, no prefetch", min(serial))
        line("fresh process per file", process)
        print(f"all runs (s): folder {[round(t, 2) for t in folder]}, "
              f"serial {[round(t, 2) for t in serial]}")
        print(f"ratio folder / in-process loop:     {min(serial) / min(folder):.2f}x")
        if process is not None:
            print(f"ratio folder / process per file:    {process / min(folder):.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
