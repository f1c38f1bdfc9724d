"""Launch to first tile: how long ``upscale IMAGE`` takes before the network first runs.

Each run starts a fresh interpreter running the CLI on a small image; the first
call of the network (the tiling engine's ``forward``) prints the time and ends
the process. The model cache is warmed by one untimed run first, so what is
measured is imports, loading and preparing the network, not conversion.

    python bench/startup.py                              # both networks, 5 runs each
    python bench/startup.py --model realesr-animevideov3 --runs 3

Targets (issue 13): at most 1.5 s for x4plus and under 1 s for animevideov3.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SET5 = REPO.parent / "shared" / "data" / "set5"

CHILD = """
import os, sys, time
import upscale.run.engine as engine

def first_tile(*args, **kwargs):
    print(f"FIRST_TILE {time.time()!r}", file=sys.stderr, flush=True)
    os._exit(0)

engine.forward = first_tile
from upscale.cli import main
sys.argv = ["upscale", *sys.argv[1:]]
main()
"""


def launch_to_first_tile(model: str, image: Path, output: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.time()
    done = subprocess.run([sys.executable, "-c", CHILD, str(image), "-m", model, "-o",
                           str(output), "--overwrite", "-q"], env=env, capture_output=True,
                          text=True, check=False)
    stamps = [line for line in done.stderr.splitlines() if line.startswith("FIRST_TILE ")]
    if not stamps:
        raise RuntimeError(f"no first tile (exit {done.returncode}): {done.stderr[-2000:]}")
    return float(stamps[-1].split()[1]) - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append",
                        help="default: realesrgan-x4plus and realesr-animevideov3")
    parser.add_argument("--image", default=str(SET5 / "butterfly.png"))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    models = args.model or ["realesrgan-x4plus", "realesr-animevideov3"]
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "out.png"
        for model in models:  # warm the cache: conversion, compiled blobs, page cache
            launch_to_first_tile(model, Path(args.image), output)
        times: dict[str, list[float]] = {model: [] for model in models}
        for _ in range(args.runs):  # interleaved
            for model in models:
                times[model].append(launch_to_first_tile(model, Path(args.image), output))
    print(f"load average {os.getloadavg()[0]:.2f}; launch to first tile, warm cache, "
          f"{args.runs} runs")
    for model, values in times.items():
        print(f"  {model}: min {min(values):.2f} s, median {statistics.median(values):.2f} s")


if __name__ == "__main__":
    main()
