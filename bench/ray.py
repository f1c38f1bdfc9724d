"""Ray overhead and scaling on one machine, in one run: local against ``--ray local``.

    python bench/ray.py                    # 24 images, a 10 s clip, 10,000 small files
    python bench/ray.py --files 2000       # a shorter memory case
    python bench/ray.py --memory-only      # only the driver's memory, 50 and 10,000 files

Measured, each in a fresh process (so no run inherits another's caches):

- 24 images and a 10 s clip with realesr-animevideov3 (packaged weights, else the
  same shape random-init): locally, then on ``--ray local`` with 1 actor (the
  overhead, target at most 1.15x) and with 2 actors (what two cores allow);
- the driver's peak memory (VmHWM) for a folder of 10,000 small files on Ray,
  target under 500 MB.

Times are of the library call (``upscale_folder`` / ``upscale_video``, or their
``*_on_ray`` twins), so they include Ray starting, actors starting and preparing
the network, but not the Python interpreter's own start. The bench runs inside a
network namespace of its own (``unshare -n``, loopback up; needs root) so Ray
listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# This file is named ray.py: its folder must not shadow the real ``ray`` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))
INSIDE = "UPSCALE_BENCH_NETNS"
NET_SCALES = {"tiny": 2.0, "anime": 4.0}  # what network() builds
SEGMENT_FRAMES = 60  # four segments in a 10 s clip, so two actors have work to share


def reexec_in_network_namespace() -> None:
    """Run this script again inside ``unshare -n`` with only loopback up."""
    env = {**os.environ, INSIDE: "1"}
    command = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
               sys.executable, *sys.argv]
    sys.exit(subprocess.call(command, env=env))


def network(kind: str):
    import torch

    from upscale.archs import describe
    from upscale.archs.srvgg import SRVGGNetCompact

    if kind == "tiny":
        torch.manual_seed(0)
        return describe(SRVGGNetCompact(num_feat=4, num_conv=1, scale=2).eval())
    try:
        from upscale.loading import load_model

        return load_model("realesr-animevideov3", offline=True)
    except Exception:  # noqa: BLE001 - no weights here: the same shape, random-init
        torch.manual_seed(0)
        return describe(SRVGGNetCompact(num_feat=64, num_conv=16, scale=4).eval())


def memory_mb() -> dict[str, float]:
    """This process's resident memory now, and its peak (VmHWM), in MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS", "RssAnon"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


class PeakSampler(threading.Thread):
    """The highest anonymous (heap) memory seen, sampled every 20 ms.

    VmHWM also counts the pages of shared libraries (torch, pyarrow), which
    are the same whatever the folder size; the heap is what a folder grows.
    """

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_anon = 0.0
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak_anon = max(self.peak_anon, memory_mb()["RssAnon"])
            time.sleep(0.02)


def measure(args: argparse.Namespace) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    from upscale.batch import upscale_folder
    from upscale.distributed import upscale_folder_on_ray, upscale_video_on_ray
    from upscale.request import make_request
    from upscale.video import upscale_video

    if args.what == "folder" and args.actors:
        # On Ray the network loads in a worker (pickled there by value, as this is __main__):
        # the driver never imports torch, as in a CLI run.
        load_network = functools.partial(network, args.net)
    else:
        net = network(args.net)
        load_network = lambda: net  # noqa: E731 - the loader upscale_folder wants
    out = Path(args.out)
    before = memory_mb()
    sampler = PeakSampler()
    sampler.start()
    started = time.perf_counter()
    # The output scale, known without loading the network, as the CLI knows a registry
    # model's: the Ray run then starts its actors while the network loads.
    scale = NET_SCALES[args.net]
    if args.what == "folder":
        request = make_request(args.src, output=out, model=args.net, scale=scale, device="cpu",
                               quiet=True, ray="local" if args.actors else None)
    if args.what == "folder" and args.actors == 0:
        code = upscale_folder(request, load_network=load_network)
    elif args.what == "folder":
        code = upscale_folder_on_ray(request, actors=args.actors, load_network=load_network)
    elif args.actors == 0:
        from upscale.run import prepare_network  # here: it imports torch

        upscale_video(prepare_network(net, device="cpu"), args.src, out,
                      segment_frames=SEGMENT_FRAMES)
        code = 0
    else:
        upscale_video_on_ray("local", args.src, out, network=net, actors=args.actors,
                             device="cpu", segment_frames=SEGMENT_FRAMES)
        code = 0
    seconds = time.perf_counter() - started
    sampler.running = False
    sampler.join()
    after = memory_mb()
    print(json.dumps({"seconds": seconds, "code": code, "peak_rss_mb": after["VmHWM"],
                      "torch_in_driver": "torch" in sys.modules,
                      "start_rss_mb": before["VmRSS"],
                      "peak_anon_mb": max(sampler.peak_anon, after["RssAnon"]),
                      "start_anon_mb": before["RssAnon"]}))


def run_measure(what: str, src: Path, out: Path, actors: int, net: str) -> dict:
    command = [sys.executable, __file__, "--measure", what, "--src", str(src), "--out", str(out),
               "--actors", str(actors), "--net", net]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          env={**os.environ, INSIDE: "1"})
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise SystemExit(f"{what} with {actors} actors failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def make_inputs(root: Path, images: int, size: str, seconds: float, clip_size: str,
                files: int) -> tuple[Path, Path, Path]:
    import numpy as np

    from upscale.imaging import write_image
    from upscale.video.ffmpeg.binary import ffmpeg_exe

    width, height = map(int, size.split("x"))
    rng = np.random.default_rng(0)
    photos = root / "photos"
    photos.mkdir()
    y, x = np.mgrid[0:height, 0:width]
    for index in range(images):
        base = np.stack([x * 255 // width, y * 255 // height, (x + y + 17 * index) % 256], -1)
        noise = rng.integers(-20, 21, base.shape)
        write_image(photos / f"photo{index:02d}.png", np.clip(base + noise, 0, 255).astype("u1"))
    clip = root / "clip.mp4"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size={clip_size}:rate=24:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(clip)],
                   check=True)
    many = root / "many"
    many.mkdir()
    tiny = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    for index in range(files):
        write_image(many / f"f{index:05d}.png", tiny)
    return photos, clip, many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--size", default="320x240", help="image size WxH")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clip-size", default="160x120")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=1, help="interleaved; best of")
    parser.add_argument("--no-video", action="store_true", help="images only (no clip)")
    parser.add_argument("--memory-only", action="store_true",
                        help="only the driver-memory case (no images, no clip)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--src", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--actors", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--net", default="anime", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # Ray's workers import upscale too: from this checkout, not whichever one is installed.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])
    if os.environ.get(INSIDE) != "1":
        reexec_in_network_namespace()
    if args.measure:
        args.what = args.measure
        measure(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        photos, clip, many = make_inputs(root, 0 if args.memory_only else args.images, args.size,
                                         args.seconds, args.clip_size, args.files)
        print(f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs", flush=True)
        if not args.memory_only:
            speed_runs(root, args, photos, clip)
        memory_runs(root, args, many)


def speed_runs(root: Path, args: argparse.Namespace, photos: Path, clip: Path) -> None:
    """Local against ``--ray local`` with 1 and 2 actors, and Ray's fixed cost."""
    print(f"best of {args.repeats}; {args.images} images {args.size}, a {args.seconds:g} s "
          f"clip {args.clip_size} (segments of {SEGMENT_FRAMES} frames), realesr-animevideov3 x4")
    rows = []
    for what, src in (("folder", photos), ("video", clip))[:1 if args.no_video else 2]:
        suffix = "" if what == "folder" else ".mp4"
        best: dict[int, float] = {}
        for repeat in range(args.repeats):  # interleaved, so a busy spell hits all alike
            for actors in (0, 1, 2) if repeat % 2 == 0 else (2, 1, 0):
                out = root / f"{what}_{actors}_{repeat}{suffix}"
                seconds = run_measure(what, src, out, actors, "anime")["seconds"]
                print(f"  {what}, {actors or 'local'} {'actors' if actors else ''}: "
                      f"{seconds:.1f} s", flush=True)
                best[actors] = min(best.get(actors, seconds), seconds)
        rows += [(what, actors, best[0], best[actors]) for actors in (1, 2)]
    print("\n| input | local s | --ray local s | actors | ray / local |")
    print("|---|---:|---:|---:|---:|")
    for what, actors, local, ray in rows:
        print(f"| {what} | {local:.1f} | {ray:.1f} | {actors} | {ray / local:.2f} |")
    one = root / "one"
    one.mkdir()
    (photos / "photo00.png").rename(one / "photo00.png")
    fixed = [run_measure("folder", one, root / f"one_{actors}", actors, "anime")["seconds"]
             for actors in (0, 1)]
    print(f"\none image: local {fixed[0]:.1f} s, --ray local {fixed[1]:.1f} s: Ray's fixed "
          f"cost (start, one actor starting and preparing) {fixed[1] - fixed[0]:.1f} s")
    for what, actors, local, ray in rows:
        if actors == 1:
            print(f"{what}, 1 actor, without the fixed cost: "
                  f"{(ray - (fixed[1] - fixed[0])) / local:.2f}x local")


def memory_runs(root: Path, args: argparse.Namespace, many: Path) -> None:
    """The driver's peak memory for 50 files and for ``--files`` files, on 2 actors."""
    for label, count, folder in (("few", 50, None), ("many", args.files, many)):
        if folder is None:
            folder = root / label
            folder.mkdir()
            for path in sorted(many.iterdir())[:count]:
                (folder / path.name).write_bytes(path.read_bytes())
        memory = run_measure("folder", folder, root / f"out_{label}", 2, "tiny")
        print(f"{count} files of 8x8 on 2 actors: {memory['seconds']:.1f} s, exit "
              f"{memory['code']}; driver peak RSS {memory['peak_rss_mb']:.0f} MB "
              f"({memory['start_rss_mb']:.0f} MB after imports, before the run); peak heap "
              f"{memory['peak_anon_mb']:.0f} MB ({memory['start_anon_mb']:.0f} MB before); "
              f"torch imported by the driver: {memory['torch_in_driver']}")


if __name__ == "__main__":
    main()
