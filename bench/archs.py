"""spandrel's architectures on the CPU: seconds per megapixel, three ways, interleaved.

For each architecture (random weights, the configurations of released models) three
engines are each loaded in a process of its own, so that no two thread pools compete:

- ``spandrel``: spandrel's own model call (plain PyTorch);
- ``openvino``: the plain OpenVINO recipe a user would write: ``ov.convert_model`` of
  spandrel's module with this input as the example, compiled in f32 (not our IR);
- ``upscale``: what ``prepare_network(model, "cpu")`` runs by default, i.e. the engine
  the measured verdict (:mod:`upscale.run.cpu.choice`) picked; its first-run cost
  (conversion, the verdict's probes) is reported apart.

The processes wait on a pipe while another one computes; the parent asks each in turn
for a round (one call, or as many as fill a second: their mean), ``--repeats`` rounds, the
order rotated every round, so a change of the machine's load falls on all three alike.
Reported: the median of the rounds (and the best) on a ``--side``-pixel square, per megapixel
of input. Needs ``upscale[models]``.

    python bench/archs.py                       # every architecture (minutes)
    python bench/archs.py --arch SPAN --arch DAT-light --side 64
    python bench/archs.py --arch SPAN --onnx     # and its ONNX export: OpenVINO, onnxruntime
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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


def load_engine(name: str, engine: str, side: int):  # noqa: ANN201
    """One engine on one architecture, in this process: (call, first-call seconds, extra)."""
    import torch
    from spandrel import ModelLoader

    from upscale.archs import build_model
    from upscale.run import prepare_network
    from upscale.run.cpu.shared import use_all_cores

    use_all_cores()
    state = build(name).state_dict()
    x = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(1))
    first = time.perf_counter()
    extra: dict = {}
    if engine == "spandrel":
        run = ModelLoader().load_from_state_dict(state).eval()
    elif engine == "openvino":
        run = plain_openvino(ModelLoader().load_from_state_dict(state).model.eval(), x)
    elif engine in ONNX_ENGINES:
        run = onnx_engine(engine, build(name), side)
    else:
        from upscale.run.cpu.choice import verdict_path

        model = build_model(state, source=name)
        extra["radius"] = model.hyperparameters["receptive_radius"]
        module = prepare_network(model, "cpu", "fp32").module
        path = verdict_path(model)
        extra["verdict"] = json.loads(path.read_text())["engine"] if path.is_file() else "?"

        def run(image):  # noqa: ANN001, ANN202
            with torch.inference_mode():
                return module(image)
    with torch.inference_mode():
        run(x)
    extra["first_s"] = time.perf_counter() - first

    def call() -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            run(x)
        return time.perf_counter() - start
    return call, extra


ROUND_AT_LEAST_S = 1.0  # of calls per engine and round: one 0.2 s call is too noisy alone


def serve(name: str, engine: str, side: int) -> None:
    """Load, say ready, then for every line read time calls for at least
    :data:`ROUND_AT_LEAST_S` (one, when a call takes longer) and answer their mean."""
    call, extra = load_engine(name, engine, side)
    print(json.dumps({"ready": True, **extra}), flush=True)
    for _ in sys.stdin:
        times = [call()]
        while sum(times) < ROUND_AT_LEAST_S:
            times.append(call())
        print(json.dumps({"seconds": statistics.mean(times), "calls": len(times)}), flush=True)


def plain_openvino(network, x):  # noqa: ANN001, ANN201
    """The recipe of bench/speed.py: convert with this input as example, compile in f32."""
    import openvino as ov
    import torch

    with torch.no_grad():
        model = ov.convert_model(network, example_input=x)
    request = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"}
                                      ).create_infer_request()
    return lambda image: request.infer({0: image.numpy()})


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


def measure(name: str, engines: tuple[str, ...], side: int, repeats: int,
            env: dict[str, str]) -> dict[str, dict]:
    """Every engine loaded in a process of its own, then timed in rotated rounds."""
    results: dict[str, dict] = {}
    servers: dict[str, subprocess.Popen] = {}
    for engine in engines:  # loaded one at a time: conversions must not overlap either
        log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - a pipe could fill and block
        server = subprocess.Popen([sys.executable, __file__, "--serve", name, engine,
                                   "--side", str(side)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        line = next((line for line in server.stdout if line.startswith("{")), None)
        if line is None:
            log.seek(0)
            tail = (log.read().strip().splitlines() or ["?"])[-1][:120]
            results[engine] = {"error": f"exit {server.wait()}: {tail}"}
            continue
        results[engine] = json.loads(line)
        servers[engine] = server
    order = list(servers)
    times: dict[str, list[float]] = {engine: [] for engine in order}
    for round_ in range(repeats):
        for engine in order[round_ % len(order):] + order[:round_ % len(order)]:
            server = servers[engine]
            server.stdin.write("run\n")
            server.stdin.flush()
            times[engine].append(json.loads(server.stdout.readline())["seconds"])
    megapixels = side * side / 1e6
    for engine, server in servers.items():
        server.stdin.close()
        server.wait()
        results[engine]["s_per_mp"] = statistics.median(times[engine]) / megapixels
        results[engine]["best_s_per_mp"] = min(times[engine]) / megapixels
        print(f"{name:13} {engine:9} {json.dumps(results[engine])}", file=sys.stderr,
              flush=True)
    return results


def cell(result: dict) -> str:
    if "s_per_mp" not in result:
        return result.get("error", "?")
    return f"{result['s_per_mp']:.1f} ({result['best_s_per_mp']:.1f})"


def parent(archs: list[str], side: int, repeats: int, onnx: bool = False) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-archs-") as cache:
        env = {**os.environ, "UPSCALE_CACHE": cache, "PYTHONWARNINGS": "ignore"}
        rows = {name: measure(name, ENGINES + (ONNX_ENGINES if onnx else ()), side, repeats,
                              env) for name in archs}
    print(f"\n{side}×{side} input, {repeats} interleaved rounds, {os.cpu_count()} CPUs; "
          "seconds per megapixel of input, median (best); lower is faster\n")
    print("| architecture | spandrel (PyTorch) | plain OpenVINO | upscale default | picked | "
          "default vs faster (medians) | first run | receptive radius |")
    print("|---|---|---|---|---|---|---|---|")
    for name, result in rows.items():
        cells = [result[e].get("s_per_mp") for e in ENGINES]
        base = [c for c in cells[:2] if c is not None]
        ratio = f"{min(base) / cells[2]:.2f}×" if base and cells[2] else "?"
        up = result["upscale"]
        print(f"| {name} | {' | '.join(cell(result[e]) for e in ENGINES)} | "
              f"{up.get('verdict', '?')} | {ratio} | {up.get('first_s', float('nan')):.1f} s | "
              f"{up.get('radius', '?')} |")
    if onnx:
        print("\nThe same networks exported to ONNX (seconds per megapixel):\n")
        print("| architecture | ONNX in OpenVINO (`-m model.onnx`) | onnxruntime |")
        print("|---|---|---|")
        for name, result in rows.items():
            print(f"| {name} | {' | '.join(cell(result[e]) for e in ONNX_ENGINES)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", action="append", choices=ARCHS)
    parser.add_argument("--side", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--onnx", action="store_true",
                        help="also export each network to ONNX: OpenVINO against onnxruntime")
    parser.add_argument("--serve", nargs=2, metavar=("ARCH", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve, args.side)
        return
    parent(args.arch or list(ARCHS), args.side, args.repeats, args.onnx)


if __name__ == "__main__":
    main()
