"""``python -m upscale.run.cpu.probe XML FOLDER REPEATS TIMED``: run an OpenVINO IR on probes,
in a process of its own so that a compiler crash costs only :mod:`.choice`'s measurement."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from .openvino import OpenVINONetwork
from .shared import best_seconds, keep_freed_memory


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
