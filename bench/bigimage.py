"""Peak memory and seconds per output megapixel of one image file upscaled ×4, before and after.

Each run is a child process that calls ``upscale_file`` (read, upscale, write a PNG) on a
photo-like input, and reports its own peak resident set size (``ru_maxrss``) and the
seconds the call took. "before" runs the code of another commit (``--base``, checked out
in a git worktree beside this one), "after" this tree's; both in the same run, one after
the other per size, so that a busy machine slows both alike.

    python bench/bigimage.py                       # 1, 16, 96 MP with realesr-animevideov3,
                                                   # 16 and 400 MP with a tiny network
    python bench/bigimage.py --sizes 96 --repeat 2
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SET5 = REPO.parent / "shared" / "data" / "set5"
REAL_MODEL = "realesr-animevideov3"
TINY_MODEL = "tiny"  # SRVGGNetCompact ×4, 4 features, random weights: the largest size in minutes
INPUTS = {1: (250, 250), 16: (1000, 1000), 96: (3000, 2000), 400: (5000, 5000)}  # output MP
DEFAULT_ROWS = [(1, REAL_MODEL), (16, REAL_MODEL), (96, REAL_MODEL), (16, TINY_MODEL),
                (400, TINY_MODEL)]


def child(repo: Path, model: str, source: Path, target: Path) -> None:
    """Upscale ``source`` to ``target`` with the code in ``repo``; print what it cost."""
    sys.path.insert(0, str(repo))
    import torch

    from upscale.files import upscale_file
    from upscale.run import prepare_network

    if model == TINY_MODEL:
        from upscale.archs.srvgg import SRVGGNetCompact

        torch.manual_seed(0)
        network = SRVGGNetCompact(num_feat=4, num_conv=1, scale=4).eval()
    else:
        from upscale.loading import load_model

        network = load_model(model)
    prepared = prepare_network(network, device="cpu", precision="fp32")
    started = time.perf_counter()
    upscale_file(prepared, source, target, overwrite=True, max_pixels=None)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_kib / 1024,
                      "output_mb_on_disk": target.stat().st_size / 1e6}))


def base_tree(commit: str) -> Path:
    """A worktree of ``commit`` beside the system's temporary files (made once)."""
    tree = Path(tempfile.gettempdir()) / f"upscale-bench-{commit.replace('/', '_')}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), commit],
                       check=True, capture_output=True)
    return tree


def make_input(folder: Path, megapixels: int) -> Path:
    """A photo-like PNG whose ×4 output has about ``megapixels``."""
    import cv2

    width, height = INPUTS[megapixels]
    path = folder / f"input_{width}x{height}.png"
    if not path.exists():
        photo = cv2.imread(str(SET5 / "woman.png"))
        cv2.imwrite(str(path), cv2.resize(photo, (width, height), interpolation=cv2.INTER_CUBIC))
    return path


def measure(repo: Path, model: str, source: Path, target: Path) -> dict:
    command = [sys.executable, __file__, "--child", "--repo", str(repo), "--model", model,
               "--input", str(source), "--output", str(target)]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=repo)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="the commit 'before' runs")
    parser.add_argument("--sizes", type=int, nargs="*", help="output MP (default: every row)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each, best time kept")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--repo", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.repo, args.model, args.input, args.output)
        return
    trees = {"before": base_tree(args.base), "after": REPO}
    rows = [row for row in DEFAULT_ROWS if not args.sizes or row[0] in args.sizes]
    print("| output | model | road | peak RSS | s | s / output MP | file MB |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for megapixels, model in rows:
            source = make_input(folder, megapixels)
            width, height = INPUTS[megapixels]
            out_mp = width * height * 16 / 1e6
            for road, tree in trees.items():
                runs = [measure(tree, model, source, folder / f"out_{road}.png")
                        for _ in range(args.repeat)]
                best = min(runs, key=lambda run: run["seconds"])
                peak = max(run["peak_rss_mb"] for run in runs)
                print(f"| {width * 4}×{height * 4} ({out_mp:.0f} MP) | {model} | {road} | "
                      f"{peak / 1024:.2f} GB | {best['seconds']:.1f} | "
                      f"{best['seconds'] / out_mp:.3f} | {best['output_mb_on_disk']:.0f} |",
                      flush=True)


if __name__ == "__main__":
    main()
