"""OpenVINO or PyTorch (in NCHW or channels-last order): measured once per network, the
fastest kept.

OpenVINO is wrong or crashes on a few (RealPLKSR under 64 px), so it runs probes in a
child process (:mod:`.probe`), and below the smallest it got right PyTorch runs. A graph
that holds only at its traced size (DAT) gets one IR traced at a timed probe's shape;
kept when right and faster, it runs as :class:`~.openvino.TracedPerShape`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...model import ModelDescriptor
from ...notes import long_step
from ...outputs import write_bytes_atomically
from .openvino import TracedPerShape, ensure_ir, ir_path, openvino_network
from .shared import best_seconds

# Probe inputs, largest first; odd sides, as tiles have, where window padding differs. The
# first TIMED are timed, summed: at one size alone an engine can be 1.5× off its speed at
# others. One timed width is a multiple of 64, as tiles (memory.py rounds them to 64) and many
# images have: OpenVINO's convolutions can run 1.5× slower at such widths than at their
# neighbours (cache aliasing; RealPLKSR, in bench/RESULTS.md), PyTorch's in channels-last not.
PROBE_SHAPES = ((128, 128), (96, 88), (61, 47), (37, 29), (23, 17), (13, 11), (7, 5))
TIMED, REPEATS = 2, 2  # timed runs (at least) after a warm-up; the best counts
AGREEMENT = 0.25 / 255  # largest difference from PyTorch accepted, in [0, 1] units
PROBE_TIMEOUT_S = 900
PROBE_COMMAND = [sys.executable, "-m", "upscale.run.cpu.probe"]  # + XML FOLDER REPEATS TIMED
OPENVINO, PYTORCH, CHANNELS_LAST = "openvino", "pytorch", "pytorch-channels-last"
PER_SHAPE = "openvino-per-shape"  # an IR traced at each input shape


@dataclass(frozen=True)
class Verdict:
    """The engine chosen and why (inputs under ``openvino_minimum`` run in PyTorch)."""

    engine: str
    pytorch_s: float
    openvino_s: float | None
    reason: str
    openvino_minimum: int = 1


class SmallInputsInPyTorch(nn.Module):
    """OpenVINO for inputs at least ``minimum`` pixels on each side, PyTorch below."""

    def __init__(self, openvino: nn.Module, network: nn.Module, minimum: int) -> None:
        super().__init__()
        self.openvino, self.network, self.minimum = openvino, network, minimum

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) < self.minimum:
            return self.network(x)
        return self.openvino(x)


class ChannelsLast(nn.Module):
    """The network with weights and input in channels-last order, where oneDNN's convolutions
    run faster than in NCHW (RealPLKSR 1.3×, in bench/RESULTS.md); a copy, as ``network``
    stays the reference the other engines are traced from and compared with."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = copy.deepcopy(network).to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x.contiguous(memory_format=torch.channels_last)).contiguous()


def _pytorch_times(network: nn.Module, probes: list[torch.Tensor], openvino: list[float]
                   ) -> tuple[str, list[float]]:
    """Plain or channels-last PyTorch, whichever agrees and is faster: seconds on each probe,
    smallest first; one over twice OpenVINO's time on a probe is not timed further."""
    reference, best = network(probes[0]), (PYTORCH, [])
    for engine, module in ((PYTORCH, network), (CHANNELS_LAST, ChannelsLast(network))):
        if not float((module(probes[0]) - reference).abs().max()) <= AGREEMENT:  # NaN too
            continue
        times = []  # the check above warmed the first probe's size up
        for probe, limit in zip(probes, openvino, strict=False):
            if times:
                module(probe)  # the warm-up
            times.append(best_seconds(module, probe, REPEATS))
            if times[-1] > 2 * limit:
                break
        if (len(times), -sum(times)) > (len(best[1]), -sum(best[1])):
            best = (engine, times)
    return best


def verdict_path(model: ModelDescriptor) -> Path:
    return ir_path(model).with_suffix(".engine.json")


def _run_openvino(xml: Path, probes: list[torch.Tensor], timed: int = TIMED
                  ) -> tuple[list[float], list[np.ndarray], str]:
    """In a child process: seconds per call on the first ``timed`` probes, outputs up to a
    failure, and the failure."""
    with tempfile.TemporaryDirectory(prefix="upscale-probe-") as name:
        folder = Path(name)
        for index, probe in enumerate(probes):
            np.save(folder / f"input_{index}.npy", probe.numpy())
        command = [*PROBE_COMMAND, str(xml), str(folder), str(REPEATS), str(timed)]
        env = dict(os.environ)  # with this copy of upscale first on the path
        package_root = str(Path(__file__).resolve().parents[3])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=env,
                                  timeout=PROBE_TIMEOUT_S, check=False)
            stdout, stderr, code = done.stdout, done.stderr, done.returncode
        except subprocess.TimeoutExpired as expired:
            stdout, stderr, code = expired.stdout or "", "", None
            stdout = stdout.decode() if isinstance(stdout, bytes) else stdout
        lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        outputs = [np.load(folder / f"output_{line['index']}.npy") for line in lines]
        seconds = [line["seconds"] for line in lines if line["seconds"] is not None]
        if code == 0:
            return seconds, outputs, ""
        if code is None:
            return seconds, outputs, f"took over {PROBE_TIMEOUT_S} s"
        last = stderr.strip().splitlines()[-1][:200] if stderr.strip() else ""
        return seconds, outputs, last or f"its process died with code {code}"


@torch.inference_mode()
def measure(model: ModelDescriptor, network: nn.Module) -> Verdict:
    """Time PyTorch here and OpenVINO in a child process on the probes; pick."""
    xml = openvino_network(model, network).xml  # converts once (cached)
    generator = torch.Generator().manual_seed(0)
    shapes = dict.fromkeys(model.size.fit_shape(*shape) for shape in PROBE_SHAPES)
    probes = [torch.rand(1, model.in_channels, height, width, generator=generator)
              for height, width in shapes]
    timed = probes[:TIMED][::-1]  # smallest first
    openvino, outputs, failure = _run_openvino(xml, probes)
    openvino = openvino[::-1] if len(openvino) == len(timed) else [math.inf]
    pytorch, pytorch_times = _pytorch_times(network, timed, openvino)
    right = 0  # how many probes, from the largest, OpenVINO got right
    for probe, output in zip(probes, outputs, strict=False):
        difference = float(np.abs(output - network(probe).numpy()).max())
        if not difference <= AGREEMENT:  # NaN too
            failure = failure or f"its output differs from PyTorch's by {difference:.3g}"
            break
        right += 1
    if right < len(timed):
        return _traced_per_shape(model, network, timed[0], (pytorch, pytorch_times[0]), failure)
    minimum = 1 if right == len(probes) else min(probes[right - 1].shape[-2:])
    pytorch_s, openvino_s = sum(pytorch_times), sum(openvino[:len(pytorch_times)])
    if len(pytorch_times) == len(timed) and openvino_s >= pytorch_s:
        return Verdict(pytorch, pytorch_s, openvino_s, "PyTorch was faster", minimum)
    return Verdict(OPENVINO, pytorch_s, openvino_s, "OpenVINO was faster"
                   + (f"; below {minimum} px {failure}" if failure else ""), minimum)


def _traced_per_shape(model: ModelDescriptor, network: nn.Module, probe: torch.Tensor,
                      pytorch: tuple[str, float], failure: str) -> Verdict:
    """After the IR for every size failed: one IR traced at the probe's own shape."""
    (engine, pytorch_s), failed = pytorch, f"OpenVINO failed: {failure}"
    try:
        xml = ensure_ir(model, network, tuple(probe.shape))
    except Exception as error:  # noqa: BLE001 - the conversion's own failure: PyTorch runs it
        return Verdict(engine, pytorch_s, None, f"{failed}; traced at one size: {error}"[:300])
    times, outputs, why = _run_openvino(xml, [probe], timed=1)
    seconds = times[0] if times else None
    if seconds is None or not outputs:
        return Verdict(engine, pytorch_s, None, f"{failed}; traced at one size: {why}")
    difference = float(np.abs(outputs[0] - network(probe).numpy()).max())
    if not difference <= AGREEMENT:
        return Verdict(engine, pytorch_s, seconds, f"{failed}; traced at one size, its "
                       f"output differs from PyTorch's by {difference:.3g}")
    if seconds >= pytorch_s:
        return Verdict(engine, pytorch_s, seconds, f"{failed}; traced at one size, "
                       "PyTorch was faster")
    return Verdict(PER_SHAPE, pytorch_s, seconds, "OpenVINO traced at each input size was "
                   f"faster ({failed})"[:300], min(probe.shape[-2:]))


def choose(model: ModelDescriptor, network: nn.Module) -> Verdict:
    """The saved verdict for this network, or a new measurement (saved)."""
    path = verdict_path(model)
    with contextlib.suppress(OSError, ValueError, TypeError):
        return Verdict(**json.loads(path.read_text()))
    with long_step(f"measuring OpenVINO against PyTorch for {model.source} (once; cached in "
                   f"{path.parent})"):
        verdict = measure(model, network)
    with contextlib.suppress(OSError):  # an unwritable cache: measured again next time
        write_bytes_atomically(path, json.dumps(asdict(verdict)).encode(), overwrite=True)
    return verdict


def fastest(model: ModelDescriptor, network: nn.Module) -> nn.Module:
    """The OpenVINO engine (for every size, or per size) or ``network`` itself (in NCHW or
    channels-last order), whichever the verdict names."""
    verdict = choose(model, network)
    if verdict.engine == PER_SHAPE:
        engine: nn.Module = TracedPerShape(model, network)
    elif verdict.engine == OPENVINO:
        engine = openvino_network(model, network)
    else:
        return ChannelsLast(network) if verdict.engine == CHANNELS_LAST else network
    if verdict.openvino_minimum <= 1:
        return engine
    return SmallInputsInPyTorch(engine, network, verdict.openvino_minimum)
