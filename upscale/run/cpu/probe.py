"""``python -m upscale.run.cpu.probe XML FOLDER REPEATS TIMED``: run an OpenVINO IR on probes,
in a process of its own so that a compiler crash costs only :mod:`.choice`'s measurement."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .openvino import OpenVINONetwork
from .shared import keep_freed_memory

TIMED_AT_LEAST_S, MOST_REPEATS = 1.0, 10  # a fast network is timed more often: less noise


def best_seconds(engine: Callable[[torch.Tensor], object], x: torch.Tensor, repeats: int
                 ) -> float:
    """The fastest of at least ``repeats`` calls, more (up to :data:`MOST_REPEATS`) until
    :data:`TIMED_AT_LEAST_S` is spent: one 0.2 s call can be 5% off its usual time."""
    times: list[float] = []
    while len(times) < repeats or (sum(times) < TIMED_AT_LEAST_S and len(times) < MOST_REPEATS):
        start = time.perf_counter()
        engine(x)
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str]) -> int:
    xml, folder, repeats, timed = Path(argv[0]), Path(argv[1]), int(argv[2]), int(argv[3])
    keep_freed_memory()  # as in the run it times
    engine = OpenVINONetwork(xml)
    index = 0
    while (given := folder / f"input_{index}.npy").is_file():
        x = torch.from_numpy(np.load(given))
        output = engine(x)
        best = best_seconds(engine, x, repeats) if index < timed else None
        np.save(folder / f"output_{index}.npy", output.numpy())
        print(json.dumps({"index": index, "seconds": best}), flush=True)
        index += 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
