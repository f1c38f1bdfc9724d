"""First-run conversion of the packaged ncnn weights vs loading the cached safetensors.

Run: python bench/loading.py [model ...]. Both paths run side by side in one
process, alternating, each repeat with a fresh empty cache for the first run;
report the medians and their ratio (absolute times depend on machine load).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

from upscale.loading import load_model


def timed(name: str) -> float:
    started = time.perf_counter()
    load_model(name)
    return time.perf_counter() - started


def main(names: list[str], repeats: int = 3) -> None:
    for name in names:
        first, cached = [], []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as cache:
                os.environ["UPSCALE_CACHE"] = cache
                first.append(timed(name))  # parse ncnn, write safetensors, build
                cached.append(timed(name))  # hash ncnn files, read safetensors, build
        f, c = statistics.median(first), statistics.median(cached)
        print(f"{name}: first run (convert) {f:.2f} s, cached {c:.2f} s, "
              f"ratio {f / c:.2f}x (median of {repeats})")


if __name__ == "__main__":
    main(sys.argv[1:] or ["realesrgan-x4plus", "realesr-animevideov3"])
