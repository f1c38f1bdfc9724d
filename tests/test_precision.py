"""Device and precision choices: sensible defaults, clear refusals, no black fp16 images."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest
import torch
from helpers import nearest_upsampler, tiny_srvgg
from torch import nn

from upscale.errors import UpscaleError
from upscale.run import (
    engine,
    prepare_network,
    resolve_device,
    resolve_precision,
    run_frames,
    run_network,
)

CPU = torch.device("cpu")


def test_auto_device_and_precision_on_a_cpu_machine():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert resolve_device("auto").type in ("cpu", "mps")
    assert resolve_precision("auto", CPU) == torch.float32


def test_auto_precision_is_half_on_cuda():
    assert resolve_precision("auto", torch.device("cuda", 0)) == torch.float16


@pytest.mark.parametrize("name", ["fp16", "half"])
def test_fp16_on_the_cpu_is_refused_with_the_reason(name, monkeypatch):
    monkeypatch.setattr("upscale.run.precision._cpu_has_native", lambda dtype: False)
    with pytest.raises(UpscaleError, match=r"523 s.*fp32"):
        resolve_precision(name, CPU)


def test_bf16_on_a_cpu_without_bf16_is_refused(monkeypatch):
    monkeypatch.setattr("upscale.run.precision._cpu_has_native", lambda dtype: False)
    with pytest.raises(UpscaleError, match="bf16"):
        resolve_precision("bf16", CPU)


@pytest.mark.parametrize("spec", ["fp8", "double"])
def test_unknown_precisions_are_refused(spec):
    with pytest.raises(UpscaleError, match="precision"):
        resolve_precision(spec, CPU)


def test_an_empty_precision_means_auto():
    assert resolve_precision("", CPU) == torch.float32


@pytest.mark.parametrize("spec", ["cuda", "cuda:7", "cuda:x", "tpu", "mps"])
def test_unavailable_or_unknown_devices_are_refused(spec):
    if torch.cuda.is_available() and spec == "cuda":
        pytest.skip("this machine has CUDA")
    if spec == "mps" and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    with pytest.raises(UpscaleError, match="device"):
        resolve_device(spec)


def test_weights_are_converted_once_and_the_callers_network_is_untouched(rng):
    network = tiny_srvgg(2)
    prepared = prepare_network(network, "cpu", "fp16", allow_slow_half=True)
    assert all(p.dtype == torch.float16 for p in prepared.module.parameters())
    assert all(p.dtype == torch.float32 for p in network.parameters())
    before = [p.data_ptr() for p in prepared.module.parameters()]
    run_network(prepared, rng.integers(0, 256, (12, 12, 3)).astype(np.uint8), tile=4)
    assert [p.data_ptr() for p in prepared.module.parameters()] == before


def test_fp32_on_the_same_device_reuses_the_network():
    network = tiny_srvgg(2)
    assert prepare_network(network, "cpu", "fp32", optimize=False).module is network


def overflowing_network() -> torch.nn.Module:
    """Finite in fp32, but its hidden features pass fp16's 65504 limit."""
    net = tiny_srvgg(2)
    with torch.no_grad():
        body = [m for m in net.body if isinstance(m, torch.nn.Conv2d)]
        body[0].weight.abs_().mul_(3000.0)
        body[1].weight.abs_().mul_(3000.0)
        body[2].weight.mul_(1e-9)
    return net


def test_half_precision_overflow_falls_back_to_fp32_with_one_warning(rng):
    network = overflowing_network()
    image = rng.integers(0, 256, (10, 14, 3)).astype(np.uint8)
    expected = run_network(prepare_network(network, "cpu", "fp32"), image)
    half = prepare_network(network, "cpu", "fp16", allow_slow_half=True)
    with torch.inference_mode():
        raw = half.module(torch.rand(1, 3, 6, 6, dtype=torch.float16))
    assert not torch.isfinite(raw).all()  # the premise: fp16 really overflows
    with pytest.warns(RuntimeWarning, match="fp16.*fp32") as caught:
        first = run_network(half, image, tile=5, tile_pad=3)
        second = run_network(half, image, tile=5, tile_pad=3)
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1
    np.testing.assert_array_equal(first, expected)
    np.testing.assert_array_equal(second, expected)


def test_healthy_half_precision_is_close_to_fp32_without_a_warning(rng):
    network = tiny_srvgg(2)
    image = rng.integers(0, 256, (8, 8, 3)).astype(np.uint8)
    full = run_network(prepare_network(network, "cpu", "fp32"), image)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        half = run_network(prepare_network(network, "cpu", "fp16", allow_slow_half=True), image)
    assert np.abs(half.astype(int) - full).max() <= 2


class Recorder(nn.Module):
    """Wraps a network and records the dtype and size of every input it runs."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.inner = network
        for name in ("arch_name", "scale", "in_channels", "out_channels", "size_multiple",
                     "hyperparameters"):
            setattr(self, name, getattr(network, name))
        self.calls: list[tuple[torch.dtype, int, int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append((x.dtype, x.shape[-2], x.shape[-1]))
        return self.inner(x)


def test_an_overflow_switches_the_network_to_fp32_for_the_rest_of_the_run(rng):
    recorder = Recorder(overflowing_network())
    half = prepare_network(recorder, "cpu", "fp16", allow_slow_half=True)
    fp16_copy = half.module  # the converted copy, a Recorder of its own
    image = rng.integers(0, 256, (10, 14, 3)).astype(np.uint8)
    with pytest.warns(RuntimeWarning, match="fp16"):
        run_network(half, image, tile=5, tile_pad=3)
    run_network(half, image, tile=5, tile_pad=3)
    assert half.dtype == torch.float32
    assert len(fp16_copy.calls) == 1  # one failed fp16 tile, then fp32 only (not both per tile)


def test_the_fp32_rerun_after_an_overflow_is_sized_for_fp32(rng, monkeypatch):
    recorder = Recorder(overflowing_network())
    half = prepare_network(recorder, "cpu", "fp16", allow_slow_half=True)
    facts = engine.network_facts(half)
    fp16_bytes, fp32_bytes = (facts.bytes_per_pixel(d, 3, 2) for d in (torch.float16,
                                                                       torch.float32))
    image = rng.integers(0, 256, (96, 96, 3)).astype(np.uint8)
    budget = int(1.2 * fp16_bytes * image.shape[0] * image.shape[1])
    assert budget < fp32_bytes * image.shape[0] * image.shape[1]  # whole in fp16, not in fp32
    monkeypatch.setattr(engine, "memory_budget", lambda device: budget)
    with pytest.warns(RuntimeWarning, match="fp16"):
        run_network(half, image)
    fp32_calls = [c for c in recorder.calls if c[0] == torch.float32]
    assert fp32_calls
    assert all(h * w * fp32_bytes <= budget for _dtype, h, w in fp32_calls)


def tf32_allowed() -> bool:
    """Whether cuDNN may run fp32 convolutions in TF32, in whichever API this torch has."""
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        return conv.fp32_precision == "tf32"
    return bool(torch.backends.cudnn.allow_tf32)


def test_fp32_runs_without_tf32_and_leaves_the_setting_as_it_was(rng):
    assert tf32_allowed()  # the premise: PyTorch's default allows TF32 in cuDNN

    class SeesTf32(Recorder):
        def forward(self, x):
            self.seen = tf32_allowed()
            return self.inner(x)

    network = SeesTf32(tiny_srvgg(2))
    run_network(prepare_network(network, "cpu", "fp32", optimize=False),
                rng.integers(0, 256, (6, 6, 3)).astype(np.uint8))
    assert network.seen is False
    assert tf32_allowed()


def test_bf16_needs_native_support_on_the_device_the_user_chose(monkeypatch):
    """cuda:0 is a T4 (emulated bf16), cuda:1 an A100 (native)."""
    capability = {0: (7, 5), 1: (8, 0)}
    current = [0]

    @contextlib.contextmanager
    def device(which):
        saved, current[0] = current[0], torch.device(which).index
        yield
        current[0] = saved

    def is_bf16_supported(including_emulation: bool = True) -> bool:
        return including_emulation or capability[current[0]] >= (8, 0)

    monkeypatch.setattr(torch.cuda, "device", device)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "Tesla T4")
    with pytest.raises(UpscaleError, match="bf16.*fp16 or fp32"):
        resolve_precision("bf16", torch.device("cuda", 0))
    current[0] = 0  # the current device is the T4; the user chose the A100
    assert resolve_precision("bf16", torch.device("cuda", 1)) == torch.bfloat16


def test_bf16_on_torch_without_including_emulation_uses_the_compute_capability(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device", lambda which: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)  # torch<2.3: emulation
    monkeypatch.setattr(torch.cuda, "get_device_capability",
                        lambda d=None: {0: (7, 0), 1: (8, 6)}[torch.device(d).index])
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "Tesla V100")
    with pytest.raises(UpscaleError, match="bf16"):
        resolve_precision("bf16", torch.device("cuda", 0))
    assert resolve_precision("bf16", torch.device("cuda", 1)) == torch.bfloat16


def test_16_bit_images_keep_every_level_under_auto_precision(rng, monkeypatch):
    """``auto`` on CUDA means fp16 (simulated here: the CPU would say fp32), but a uint16
    image needs more than fp16's 11 bits, so it runs in fp32."""
    monkeypatch.setattr("upscale.run.prepared.resolve_precision",
                        lambda spec, device, **_: torch.float16)
    prepared = prepare_network(nearest_upsampler(2), "cpu", "auto")
    assert prepared.dtype == torch.float16
    image = rng.integers(60000, 65536, (8, 8, 3)).astype(np.uint16)  # where fp16 is coarsest
    out = run_network(prepared, image)
    np.testing.assert_array_equal(out, image.repeat(2, axis=0).repeat(2, axis=1))


def test_half_precision_asked_for_by_name_is_kept_for_16_bit_images():
    prepared = prepare_network(tiny_srvgg(2), "cpu", "fp16", allow_slow_half=True)
    assert prepared.for_pixels(np.uint16) is prepared


def test_video_frames_that_overflow_in_fp16_come_out_as_in_fp32(rng):
    network = overflowing_network()
    frames = rng.integers(0, 256, (3, 6, 8, 3)).astype(np.uint8)
    expected = run_frames(prepare_network(network, "cpu", "fp32"), frames)
    half = prepare_network(network, "cpu", "fp16", allow_slow_half=True)
    with pytest.warns(RuntimeWarning, match="fp16"):
        got = run_frames(half, frames)
    assert half.dtype == torch.float32
    np.testing.assert_array_equal(got, expected)
