"""bench/gpu.py runs end to end on the CPU on a tiny input, so it cannot rot between GPU runs."""

from __future__ import annotations

import importlib.util
import re
import sys

import pytest
import torch
from conftest import REPO_ROOT

from upscale.archs.rrdbnet import RRDBNet


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", REPO_ROOT / "bench" / "gpu.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_gpu_bench_runs_on_the_cpu_and_writes_its_table(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\nearlier sections stay\n")
    bench = load_bench()
    argv = ["--device", "cpu", "--random-weights", "--models", "animevideov3",
            "--sizes", "16x12", "--clip", "32x18", "--clip-seconds", "0.5",
            "--memory-frames", "4", "--repeats", "1", "--variants", "--peak-tflops", "0.1",
            "--results", str(results)]
    bench.main(argv)
    text = results.read_text()
    assert text.startswith("# Results\n\nearlier sections stay\n")
    assert text.count(bench.BEGIN) == 1 and text.count(bench.END) == 1
    row = re.search(r"^\| animevideov3 \| 16x12 \| fp32 \| ([\d.]+) \| 16 \|.*\| ([\d.]+)% \|",
                    text, flags=re.M)
    assert row and float(row.group(1)) > 0 and float(row.group(2)) > 0
    for variant in ("default", "cudnn.benchmark", "channels_last"):
        assert f"| {variant} |" in text
    video = re.search(r"^\| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", text, flags=re.M)
    assert video and all(float(v) > 0 for v in video.groups())
    bench.write_results(results, "the next run\n")  # replaces its own section, keeps the rest
    assert results.read_text() == (f"# Results\n\nearlier sections stay\n\n{bench.BEGIN}\n"
                                   f"the next run\n{bench.END}\n")


def test_the_card_peak_is_looked_up_by_name_most_specific_first():
    bench = load_bench()
    lookup = dict(bench.PEAK_FP16_TFLOPS)
    names = [name for name, _ in bench.PEAK_FP16_TFLOPS]
    assert names.index("H100 PCIe") < names.index("H100")
    assert names.index("L40S") < names.index("L40") < names.index("L4")
    assert lookup["V100"] == 125.0 and lookup["T4"] == 65.0


@pytest.mark.parametrize(("scale", "mflop"), [(4, 35.854), (2, 8.966), (1, 2.244)])
def test_x4plus_shaped_networks_cost_their_known_flops_per_input_pixel(scale, mflop):
    """The Tensor Core share divides by this: 36 MFLOP per input pixel for x4plus."""
    with torch.device("meta"):  # shapes only: the full-size network costs nothing
        network = RRDBNet(scale=scale)
    assert load_bench().flops_per_input_pixel(network) == pytest.approx(mflop * 1e6, rel=1e-3)
