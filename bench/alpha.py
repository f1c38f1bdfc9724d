"""Set5 Y-PSNR along the blend θ = (1−α)·θ_A + α·θ_B, for α = 0, 0.25, 0.5, 0.75, 1.

Any pair the loader accepts (registry names, files, URLs, hf://). A network and
its fine-tune score smoothly between the two ends; an unrelated pair of the same
shapes dips below both in the middle, which is what the lineage warning
predicts from the weights alone.

    python bench/alpha.py realesrgan-x4plus realsr-df2k-x4
    python bench/alpha.py A.pth B.pth --images butterfly,bird --crop 128

Protocol: HR cropped to a multiple of the scale (and, with --crop, to its
central CROP×CROP), LR by MATLAB bicubic, network in fp32 on the CPU, output
rounded to 8 bits, Y-PSNR (BT.601) with ``scale`` pixels shaved off each edge.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from upscale.archs import build_model  # noqa: E402
from upscale.eval.matlab_resize import imresize  # noqa: E402
from upscale.eval.metrics import psnr  # noqa: E402
from upscale.imaging import read_image  # noqa: E402
from upscale.loading import load_state_dict  # noqa: E402
from upscale.loading.interpolation import (  # noqa: E402
    LINEAGE_THRESHOLD,
    LineageWarning,
    blend_state_dicts,
    relative_distance,
)

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
SET5 = REPO.parent / "shared" / "data" / "set5"
SET5_NAMES = ("baby", "bird", "butterfly", "head", "woman")


def load_pairs(folder: Path, names: list[str], scale: int,
               crop: int | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (HR, LR) as uint8 RGB."""
    pairs = {}
    for name in names:
        hr = read_image(folder / f"{name}.png")[:, :, :3]
        if crop:
            top, left = max(0, (hr.shape[0] - crop) // 2), max(0, (hr.shape[1] - crop) // 2)
            hr = hr[top:top + crop, left:left + crop]
        h, w = hr.shape[0] - hr.shape[0] % scale, hr.shape[1] - hr.shape[1] % scale
        hr = np.ascontiguousarray(hr[:h, :w])
        pairs[name] = (hr, imresize(hr, 1 / scale))
    return pairs


def super_resolve(network: torch.nn.Module, lr: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(lr).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        y = network(x)[0].clamp_(0, 1).permute(1, 2, 0).numpy()
    return np.floor(y * 255 + 0.5).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("psnr", help="network A (α = 0)")
    parser.add_argument("gan", help="network B (α = 1)")
    parser.add_argument("--images", default=",".join(SET5_NAMES),
                        help="comma-separated Set5 names [all five]")
    parser.add_argument("--set5", type=Path, default=SET5, help="folder of HR .png files")
    parser.add_argument("--crop", type=int, default=None,
                        help="score only the central CROP×CROP of each HR image (for speed)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    a_state, a_meta = load_state_dict(args.psnr)
    b_state, b_meta = load_state_dict(args.gan)
    act_type = a_meta.get("act_type") or b_meta.get("act_type")
    hints = {"act_type": act_type} if act_type else {}
    distance = relative_distance(build_model(a_state, hints=hints).module.state_dict(),
                                 build_model(b_state, hints=hints).module.state_dict())
    print(f"A = {a_meta.get('source', args.psnr)}\nB = {b_meta.get('source', args.gan)}")
    print(f"relative distance ‖A−B‖/‖A‖ = {distance:.4f} (warning above {LINEAGE_THRESHOLD:g})")

    names = [n.strip() for n in args.images.split(",") if n.strip()]
    scale = build_model(a_state, hints=hints).scale
    pairs = load_pairs(args.set5, names, scale, args.crop)
    sizes = ", ".join(f"{n} {lr.shape[1]}×{lr.shape[0]}" for n, (_, lr) in pairs.items())
    print(f"x{scale}, LR inputs: {sizes}")
    print(f"{'alpha':>5}  " + "  ".join(f"{n:>9}" for n in names) + f"  {'mean':>7}  seconds")
    for alpha in ALPHAS:
        started = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LineageWarning)
            blend = blend_state_dicts(a_state, b_state, alpha, psnr_name=args.psnr,
                                      gan_name=args.gan, act_type=act_type)
        if alpha == ALPHAS[0]:
            for warning in caught:
                print(f"warning: {warning.message}")
        network = build_model(blend.state, hints={"act_type": blend.act_type}).module
        scores = [psnr(super_resolve(network, lr), hr, border=scale) for hr, lr in pairs.values()]
        cells = "  ".join(f"{s:9.2f}" for s in scores)
        seconds = time.perf_counter() - started
        print(f"{alpha:5.2f}  {cells}  {np.mean(scores):7.2f}  {seconds:7.1f}", flush=True)


if __name__ == "__main__":
    main()
