"""Seams and cost of tiling: RealESRGAN x4plus, tiled vs whole image, on a real Set5 image.

For tile sizes 64, 128 and 256 at the default context padding it prints the
PSNR of the tiled output against the whole-image output, the largest pixel
difference, and the time relative to the whole-image run. Whole-image and
tile-256 runs are interleaved and repeated (the machine is shared), and the
minimum of each is compared.

    python bench/tiling.py                          # baby, 384×128 crop, CPU
    python bench/tiling.py --image bird --size 320x160 --repeats 3 --device cuda

Targets (issue 3): at least 50 dB and at most 16 levels at every tile size,
and at most 1.35× the whole-image time at tile 256. The time ratio depends on
how much of the image is context: this input is 384 px wide, so tile 256
makes two tiles side by side.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SET5 = REPO.parent / "shared" / "data" / "set5"

from upscale.run import default_tile_pad, prepare_network, run_network  # noqa: E402


def bench_image(name: str, width: int, height: int) -> np.ndarray:
    """The Set5 image scaled to ``width`` wide (area filter), centre rows cropped to ``height``."""
    import cv2

    rgb = cv2.imread(str(SET5 / f"{name}.png"))[:, :, ::-1]
    h, w = rgb.shape[:2]
    scaled_h = max(height, round(h * width / w))
    rgb = cv2.resize(rgb, (width, scaled_h), interpolation=cv2.INTER_AREA)
    top = (scaled_h - height) // 2
    return np.ascontiguousarray(rgb[top: top + height])


def compare(tiled: np.ndarray, whole: np.ndarray) -> tuple[float, int]:
    diff = tiled.astype(np.float64) - whole
    mse = float(np.mean(diff**2))
    psnr = math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
    return psnr, int(np.abs(diff).max())


def timed(prepared, image, tile) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    out = run_network(prepared, image, tile=tile)
    return out, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="baby")
    parser.add_argument("--size", default="384x128", help="input WxH")
    parser.add_argument("--tiles", default="64,128,256")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved whole/256 timings")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--model", default="realesrgan-x4plus")
    args = parser.parse_args()
    width, height = map(int, args.size.lower().split("x"))

    from upscale.loading import load_model

    network = load_model(args.model)
    prepared = prepare_network(network, device=args.device, precision=args.precision)
    image = bench_image(args.image, width, height)
    whole_tile = max(width, height)
    tiles = [int(t) for t in args.tiles.split(",")]
    print(f"{args.model} on {args.image} {width}×{height}, {prepared.device} "
          f"{str(prepared.dtype).removeprefix('torch.')}, default tile pad "
          f"{default_tile_pad(prepared)}", flush=True)

    whole, first = timed(prepared, image, whole_tile)
    whole_times = [first]
    rows = []
    for tile in tiles:
        out, seconds = timed(prepared, image, tile)
        psnr, worst = compare(out, whole)
        rows.append([tile, psnr, worst, [seconds]])
        print(f"  tile {tile}: {psnr:.1f} dB, max {worst} levels, {seconds:.1f} s", flush=True)
    timed_row = next((row for row in rows if row[0] == max(tiles)), None)
    for _ in range(args.repeats - 1):  # interleave: whole, largest tile, whole, ...
        whole_times.append(timed(prepared, image, whole_tile)[1])
        if timed_row is not None:
            timed_row[3].append(timed(prepared, image, timed_row[0])[1])

    best_whole = min(whole_times)
    print(f"\nwhole image: {best_whole:.1f} s (min of {len(whole_times)})")
    print(f"{'tile':>6} {'PSNR dB':>8} {'max diff':>9} {'time':>8} {'vs whole':>9}  verdict")
    for tile, psnr, worst, times in rows:
        ratio = min(times) / best_whole
        ok = psnr >= 50 and worst <= 16 and (tile != 256 or ratio <= 1.35)
        print(f"{tile:>6} {psnr:>8.1f} {worst:>9} {min(times):>7.1f}s {ratio:>8.2f}×  "
              f"{'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()
