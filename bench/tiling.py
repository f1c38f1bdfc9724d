"""Seams and cost of tiling: RealESRGAN x4plus, tiled vs whole image, on a real Set5 image.

For each context setting (``pad:blend``: context pixels, and the fraction of
them blended across tile edges; ``default`` is what ``run_network`` picks) and
each tile size it prints the PSNR of the tiled output against the whole-image
output, the largest pixel difference, and the time relative to the whole-image
run. Whole-image runs are repeated between the settings (the machine is shared)
and the minimum is the reference time.

    python bench/tiling.py                          # baby, 384×128 crop, CPU
    python bench/tiling.py --contexts 48:0,32:0.5 --tiles 32,64,128
    python bench/tiling.py --image bird --size 320x160 --device cuda

Targets (issues 3 and 13): at least 50 dB and at most 16 levels at every tile
size from 32 up, for less time than the 48 px hard-edged context took.
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


def timed(prepared, image, tile, pad=None) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    out = run_network(prepared, image, tile=tile, tile_pad=pad)
    return out, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="baby")
    parser.add_argument("--size", default="384x128", help="input WxH")
    parser.add_argument("--tiles", default="32,64,128")
    parser.add_argument("--contexts", default="48:0,default",
                        help="comma-separated pad:blend-fraction, or 'default'")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--model", default="realesrgan-x4plus")
    args = parser.parse_args()
    width, height = map(int, args.size.lower().split("x"))

    from upscale.loading import load_model
    from upscale.run import engine

    network = load_model(args.model)
    prepared = prepare_network(network, device=args.device, precision=args.precision)
    image = bench_image(args.image, width, height)
    whole_tile = max(width, height)
    tiles = [int(t) for t in args.tiles.split(",")]
    default_fraction = engine.BLEND_FRACTION
    print(f"{args.model} on {args.image} {width}×{height}, {prepared.device} "
          f"{str(prepared.dtype).removeprefix('torch.')}, {type(prepared.module).__name__}, "
          f"default context {default_tile_pad(prepared)} px, blend fraction "
          f"{default_fraction}", flush=True)

    whole, first = timed(prepared, image, whole_tile)
    whole_times = [first]
    rows = []
    for setting in args.contexts.split(","):
        if setting == "default":
            pad, fraction = default_tile_pad(prepared), default_fraction
        else:
            pad_text, fraction_text = setting.split(":")
            pad, fraction = int(pad_text), float(fraction_text)
        engine.BLEND_FRACTION = fraction
        for tile in tiles:
            out, seconds = timed(prepared, image, tile, pad)
            psnr, worst = compare(out, whole)
            rows.append((f"{pad}:{fraction:g}", tile, psnr, worst, seconds))
            print(f"  context {pad} px, blend {fraction:g}, tile {tile}: {psnr:.1f} dB, max "
                  f"{worst} levels, {seconds:.1f} s", flush=True)
        whole_times.append(timed(prepared, image, whole_tile)[1])
    engine.BLEND_FRACTION = default_fraction

    best_whole = min(whole_times)
    print(f"\nwhole image: {best_whole:.1f} s (min of {len(whole_times)})\n")
    print("| context:blend | tile | PSNR dB | max diff | time s | vs whole | 50 dB, 16 levels |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for setting, tile, psnr, worst, seconds in rows:
        ok = psnr >= 50 and worst <= 16
        print(f"| {setting} | {tile} | {psnr:.1f} | {worst} | {seconds:.1f} | "
              f"{seconds / best_whole:.2f}× | {'PASS' if ok else 'FAIL'} |")


if __name__ == "__main__":
    main()
