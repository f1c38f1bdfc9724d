"""Device and precision choices: sensible defaults, clear refusals, no black fp16 images."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from helpers import tiny_srvgg

from upscale.errors import UpscaleError
from upscale.run import prepare_network, resolve_device, resolve_precision, run_network

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


@pytest.mark.parametrize("spec", ["fp8", "double", ""])
def test_unknown_precisions_are_refused(spec):
    if spec == "":
        assert resolve_precision(spec, CPU) == torch.float32  # empty means auto
        return
    with pytest.raises(UpscaleError, match="precision"):
        resolve_precision(spec, CPU)


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
