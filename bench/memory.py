"""Peak memory of a large CPU upscale: 3000×2000 RGB ×4 with realesr-animevideov3.

The whole run happens in a child process, so its peak resident set size
(``ru_maxrss``) is that of the upscale alone. The 12000×8000 uint8 output is
288 MB by itself; the target is under 2.5 GB peak.

    python bench/memory.py                     # packaged realesr-animevideov3, automatic tile
    python bench/memory.py --size 1500x1000 --tile 512
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SET5 = REPO.parent / "shared" / "data" / "set5"


def child(width: int, height: int, tile: int, model: str) -> None:
    """Upscale a photo-like image and print what it cost, as JSON."""
    sys.path.insert(0, str(REPO))
    import cv2
    import numpy as np

    from upscale.loading import load_model
    from upscale.run import prepare_network, run_network
    from upscale.run.engine import default_tile_pad, tile_side

    photo = cv2.imread(str(SET5 / "woman.png"))[:, :, ::-1]
    image = np.ascontiguousarray(cv2.resize(photo, (width, height), interpolation=cv2.INTER_CUBIC))
    del photo
    network = load_model(model)
    prepared = prepare_network(network, device="cpu", precision="fp32")
    pad = default_tile_pad(prepared)
    chosen = tile_side(prepared, tile, height, width, pad)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    out = run_network(prepared, image, tile=tile)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"model": model, "input": f"{width}x{height}", "output": list(out.shape),
                      "tile": chosen, "tile_pad": pad, "seconds": round(seconds, 1),
                      "peak_rss_mb": round(peak / 1024), "rss_before_run_mb": round(before / 1024),
                      "output_mb": round(out.nbytes / 2**20)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="3000x2000", help="input WxH")
    parser.add_argument("--tile", type=int, default=0, help="0 = automatic")
    parser.add_argument("--model", default="realesr-animevideov3")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    width, height = map(int, args.size.lower().split("x"))
    if args.child:
        child(width, height, args.tile, args.model)
        return
    result = subprocess.run([sys.executable, __file__, "--child", "--size", args.size,
                             "--tile", str(args.tile), "--model", args.model],
                            capture_output=True, text=True, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    limit_mb = 2500
    verdict = "PASS" if report["peak_rss_mb"] < limit_mb else "FAIL"
    print(f"{report['model']} {report['input']} -> {report['output'][1]}x{report['output'][0]}: "
          f"tile {report['tile']} (pad {report['tile_pad']}), {report['seconds']} s, "
          f"peak RSS {report['peak_rss_mb']} MB (before the run {report['rss_before_run_mb']} MB, "
          f"output alone {report['output_mb']} MB) [{verdict}: < {limit_mb} MB]")


if __name__ == "__main__":
    main()
