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


def test_the_quick_gpu_bench_runs_with_the_packaged_weights_and_writes_its_tables(tmp_path):
    """What a lent card runs first, at a tiny size on the CPU, with the real packaged weights
    (its only test used random ones, so the model descriptor broke it unseen)."""
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\nearlier sections stay\n")
    bench = load_bench()
    argv = ["--quick", "--device", "cpu", "--sizes", "24x16", "--clip", "32x18",
            "--clip-seconds", "0.5", "--memory-frames", "4", "--repeats", "1",
            "--half-precisions", "bf16", "--peak-tflops", "0.1",
            "--tests", "tests/test_run_pixels.py", "--results", str(results)]
    bench.main(argv)
    text = results.read_text()
    begin, end = bench.markers(torch.device("cpu"))
    assert text.startswith("# Results\n\nearlier sections stay\n")
    assert text.count(begin) == 1 and text.count(end) == 1
    assert "x4plus packaged weights, animevideov3 packaged weights" in text
    for model in ("x4plus", "animevideov3"):
        row = re.search(rf"^\| {model} \| 24x16 \| fp32 \| ([\d.]+) \| 24 \| ([\d.]+) \|.*"
                        r"\| ([\d.]+)% \|", text, flags=re.M)
        assert row and all(float(v) > 0 for v in row.groups())
        accuracy = re.search(rf"^\| {model} \| 24x16 \| bf16 \| ([\d.]+) \| ([\d.]+) \|$",
                             text, flags=re.M)
        assert accuracy and 20 < float(accuracy.group(1)) < 100
    paste = re.findall(r"^\| (.+) \| ([\d.]+) \| ([\d.]+)x \|$", text, flags=re.M)
    assert {name for name, _, _ in paste} >= {"from_network + paste (now)",
                                              "contiguous copy of the same bytes"}
    video = re.search(r"^\| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", text, flags=re.M)
    assert video and all(float(v) > 0 for v in video.groups())
    assert re.search(r"^Tests: `pytest tests/test_run_pixels.py`: \d+ passed .*\(exit 0,",
                     text, flags=re.M)
    bench.write_results(results, "the next run\n", torch.device("cpu"))  # replaces its own
    assert results.read_text() == (f"# Results\n\nearlier sections stay\n\n{begin}\n"
                                   f"the next run\n{end}\n")
    bench.write_results(results, "a card's run\n", torch.device("cuda"))  # kept apart
    assert results.read_text().count("the next run") == 1


def test_quick_fits_a_lent_cards_minutes():
    """The old default clip was 60 s at 1080p: 1,440 frames encoded at 8K."""
    args = load_bench().parse_args(["--quick", "--device", "cuda"])
    assert args.clip == "1280x720" and args.clip_seconds == 2
    assert args.sizes == "1280x720,1920x1080" and args.repeats <= 2
    assert args.precisions == ["fp16", "fp32"] and args.half_precisions == ["fp16", "bf16"]
    assert "variants" not in args.stages and "tests" in args.stages


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
