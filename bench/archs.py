"""spandrel's architectures on the CPU: seconds per megapixel, three ways, in one run.

For each architecture (random weights, the configurations of released models) it
times, each in a process of its own so that no two thread pools compete:

- ``spandrel``: spandrel's own model call (plain PyTorch);
- ``openvino``: the same network converted to OpenVINO (our IR, static shapes);
- ``upscale``: what ``prepare_network(model, "cpu")`` runs by default, i.e. the engine
  the measured verdict (:mod:`upscale.run.cpu.choice`) picked; its first-run cost
  (conversion, the verdict's probes) is reported apart.

Each time is the best of ``--repeats`` calls on a ``--side``-pixel square after a
warm-up, divided by the input's megapixels. Needs the ``upscale[models]`` extra.

    python bench/archs.py                       # every architecture (minutes)
    python bench/archs.py --arch SPAN --arch DAT --side 64
    python bench/archs.py --arch SPAN --onnx     # and its ONNX export: OpenVINO, onnxruntime
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ENGINES = ("spandrel", "openvino", "upscale")
ONNX_ENGINES = ("onnx-openvino", "onnxruntime")  # with --onnx: the network exported to ONNX


def build(name: str):  # noqa: ANN201 - a torch module
    """The network of a released model's configuration, random weights (seeded)."""
    import torch
    from spandrel.architectures.DAT import DAT
    from spandrel.architectures.HAT import HAT
    from spandrel.architectures.OmniSR import OmniSR
    from spandrel.architectures.PLKSR import RealPLKSR
    from spandrel.architectures.RealCUGAN import UpCunet2x
    from spandrel.architectures.SPAN import SPAN
    from spandrel.architectures.SwinIR import SwinIR

    torch.manual_seed(0)
    configs = {
        "SPAN": lambda: SPAN(num_in_ch=3, num_out_ch=3, feature_channels=48, upscale=4),
        "DAT-light": lambda: DAT(embed_dim=60, split_size=[8, 32], depth=[18], num_heads=[6],
                                 expansion_factor=2.0, upscale=4, resi_connection="3conv",
                                 upsampler="pixelshuffledirect"),
        "SwinIR-light": lambda: SwinIR(embed_dim=60, depths=[6, 6, 6, 6], num_heads=[6] * 4,
                                       window_size=8, mlp_ratio=2.0, upscale=4,
                                       upsampler="pixelshuffledirect"),
        "HAT-S": lambda: HAT(embed_dim=144, depths=[6] * 6, num_heads=[6] * 6, window_size=16,
                             compress_ratio=24, squeeze_factor=24, mlp_ratio=2.0, upscale=4),
        "OmniSR": lambda: OmniSR(num_feat=64, block_num=1, window_size=8, res_num=5,
                                 up_scale=4),
        "RealCUGAN": lambda: UpCunet2x(),
        "RealPLKSR": lambda: RealPLKSR(dim=64, n_blocks=28, upscaling_factor=4,
                                       kernel_size=17),
    }
    return configs[name]().eval()


ARCHS = ("SPAN", "DAT-light", "SwinIR-light", "HAT-S", "OmniSR", "RealCUGAN", "RealPLKSR")


def child(name: str, engine: str, side: int, repeats: int) -> dict:
    """One engine on one architecture, in this process."""
    import torch
    from spandrel import ModelLoader

    from upscale.archs import build_model
    from upscale.run import prepare_network
    from upscale.run.cpu.openvino import openvino_network
    from upscale.run.cpu.shared import use_all_cores

    use_all_cores()
    state = build(name).state_dict()
    x = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(1))
    first = time.perf_counter()
    extra: dict = {}
    if engine == "spandrel":
        descriptor = ModelLoader().load_from_state_dict(state).eval()
        run = descriptor
    elif engine in ONNX_ENGINES:
        run = onnx_engine(engine, build(name), side)
    else:
        model = build_model(state, source=name)
        extra["radius"] = model.hyperparameters["receptive_radius"]
        if engine == "openvino":
            module = openvino_network(model)
        else:
            module = prepare_network(model, "cpu", "fp32").module
            from upscale.run.cpu.choice import verdict_path

            extra["verdict"] = json.loads(verdict_path(model).read_text())["engine"] \
                if verdict_path(model).is_file() else "openvino (ours: no verdict)"

        def run(image):  # noqa: ANN001, ANN202
            with torch.inference_mode():
                return module(image)
    run(x)
    first = time.perf_counter() - first
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - start)
    return {"arch": name, "engine": engine, "s_per_mp": min(times) / (side * side / 1e6),
            "first_s": first, **extra}


def onnx_engine(engine: str, network, side: int):  # noqa: ANN001, ANN201
    """The network exported to ONNX (TorchScript exporter), run as ``-m model.onnx`` runs
    (OpenVINO, static shapes) or by onnxruntime."""
    import warnings

    import torch

    path = Path(tempfile.mkdtemp(prefix="bench-onnx-")) / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(network, torch.rand(1, 3, side, side), str(path), dynamo=False,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {2: "h", 3: "w"}, "output": {2: "H", 3: "W"}})
    if engine == "onnx-openvino":
        from upscale.run.cpu.openvino import OpenVINONetwork

        return OpenVINONetwork(path)
    import onnxruntime

    from upscale.run.cpu.shared import cpu_count

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = cpu_count()
    session = onnxruntime.InferenceSession(str(path), options,
                                           providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"input": x.numpy()})[0]


def parent(archs: list[str], side: int, repeats: int, onnx: bool = False) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-archs-") as cache:
        env = {**os.environ, "UPSCALE_CACHE": cache, "PYTHONWARNINGS": "ignore"}
        rows: dict[str, dict[str, dict]] = {}
        for name in archs:
            for engine in ENGINES + (ONNX_ENGINES if onnx else ()):
                done = subprocess.run([sys.executable, __file__, "--child", name, engine,
                                       "--side", str(side), "--repeats", str(repeats)],
                                      capture_output=True, text=True, env=env, check=False)
                lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
                if done.returncode or not lines:
                    tail = (done.stderr.strip().splitlines() or ["?"])[-1][:120]
                    result = {"error": f"exit {done.returncode}: {tail}"}
                else:
                    result = json.loads(lines[-1])
                rows.setdefault(name, {})[engine] = result
                print(f"{name:13} {engine:9} {json.dumps(result)}", file=sys.stderr, flush=True)
    print(f"\n{side}×{side} input, best of {repeats} warm calls, {os.cpu_count()} CPUs; "
          "seconds per megapixel of input (lower is faster)\n")
    print("| architecture | spandrel (PyTorch) | OpenVINO | upscale default | picked | "
          "default vs faster | first run | receptive radius |")
    print("|---|---|---|---|---|---|---|---|")
    for name, result in rows.items():
        cells = [result[e].get("s_per_mp") for e in ENGINES]
        shown = [f"{c:.1f}" if c is not None else result[e].get("error", "?")
                 for c, e in zip(cells, ENGINES, strict=True)]
        base = [c for c in cells[:2] if c is not None]
        ratio = f"{min(base) / cells[2]:.2f}×" if base and cells[2] else "?"
        up = result["upscale"]
        print(f"| {name} | {' | '.join(shown)} | {up.get('verdict', '?')} | {ratio} | "
              f"{up.get('first_s', float('nan')):.1f} s | {up.get('radius', '?')} |")
    if onnx:
        print("\nThe same networks exported to ONNX (seconds per megapixel):\n")
        print("| architecture | ONNX in OpenVINO (`-m model.onnx`) | onnxruntime |")
        print("|---|---|---|")
        for name, result in rows.items():
            cells = [result[e].get("s_per_mp") for e in ONNX_ENGINES]
            shown = [f"{c:.1f}" if c is not None else result[e].get("error", "?")
                     for c, e in zip(cells, ONNX_ENGINES, strict=True)]
            print(f"| {name} | {' | '.join(shown)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", action="append", choices=ARCHS)
    parser.add_argument("--side", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--onnx", action="store_true",
                        help="also export each network to ONNX: OpenVINO against onnxruntime")
    parser.add_argument("--child", nargs=2, metavar=("ARCH", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.side, args.repeats)))
        return
    parent(args.arch or list(ARCHS), args.side, args.repeats, args.onnx)


if __name__ == "__main__":
    main()
