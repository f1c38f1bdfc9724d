"""The CPU engine: OpenVINO computes the plain network's function, converts once, falls back.

Every architecture the loader builds goes through the same generic conversion,
so the networks here cover both families and their scale variants (pixel-unshuffle
RRDBNets included); the cache and fallback behaviour is what a user sees.
"""

from __future__ import annotations

import contextlib

import pytest
import torch
from helpers import tiny_rrdbnet, tiny_srvgg

from upscale.archs import describe
from upscale.archs.srvgg import SRVGGNetCompact
from upscale.notes import Note, report_long_steps
from upscale.run import cpu as optimize
from upscale.run import prepare_network
from upscale.run.cpu import openvino as ov_engine

pytest.importorskip("openvino")

TOLERANCE = 1e-5  # fp32 rounding differs between the libraries; nothing else may


@pytest.fixture(autouse=True)
def _no_winograd(monkeypatch):
    """RRDBNet and SRVGGNetCompact default to the Winograd modules: here they stand for the
    architectures that go to OpenVINO (any other, or these without numba)."""
    monkeypatch.setattr(optimize, "winograd_available", lambda device, dtype: False)


def prelu_srvgg(scale: int) -> SRVGGNetCompact:
    torch.manual_seed(3)
    net = SRVGGNetCompact(num_feat=8, num_conv=2, scale=scale, act_type="prelu").eval()
    with torch.no_grad():  # trained slopes are not all 0.25: include negative and >1
        for layer in net.body:
            if isinstance(layer, torch.nn.PReLU):
                layer.weight.uniform_(-0.5, 1.5)
    return net


@pytest.mark.parametrize("network", [tiny_rrdbnet(4), tiny_rrdbnet(2), tiny_rrdbnet(1),
                                     tiny_srvgg(2), prelu_srvgg(4)],
                         ids=["rrdb4", "rrdb2", "rrdb1", "srvgg2", "srvgg4-prelu"])
def test_openvino_computes_the_plain_network(network, tmp_path, monkeypatch):
    monkeypatch.setenv("UPSCALE_CACHE", str(tmp_path))
    module = ov_engine.openvino_network(describe(network))  # RRDBNet's default is Winograd
    for shape in [(1, 3, 20, 28), (2, 3, 16, 12)]:  # any size and batch: one dynamic IR
        x = torch.rand(*shape)
        with torch.no_grad():
            expected = network(x)
        got = module(x)
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, rtol=TOLERANCE, atol=TOLERANCE)


@pytest.mark.parametrize("shapes", ["static", "dynamic"])
def test_static_and_dynamic_shapes_compute_the_same(tmp_path, monkeypatch, shapes):
    monkeypatch.setenv("UPSCALE_CACHE", str(tmp_path))
    network = tiny_srvgg(2)
    module = ov_engine.openvino_network(describe(network), shapes=shapes)
    sizes = [(9, 13), (16, 16), (9, 13), (5, 7), (6, 7), (8, 8), (16, 16)]
    for height, width in sizes:
        x = torch.rand(1, 3, height, width)
        with torch.no_grad():
            torch.testing.assert_close(module(x), network(x), rtol=TOLERANCE, atol=TOLERANCE)
    expected = ov_engine.STATIC_SHAPES if shapes == "static" else 1  # bounded memory
    assert len(module._requests) == expected


def test_conversion_happens_once_per_weights_with_a_status_line(tmp_path, monkeypatch):
    monkeypatch.setenv("UPSCALE_CACHE", str(tmp_path))
    steps: list[str] = []

    @contextlib.contextmanager
    def shown(message: str):
        steps.append(message)
        yield

    report_long_steps(shown)
    try:
        prepare_network(tiny_srvgg(2, seed=5), "cpu", "fp32")
        assert len(steps) == 1 and "converting" in steps[0]
        assert str(tmp_path / "openvino") in steps[0]
        assert len(list((tmp_path / "openvino").glob("*.xml"))) == 1
        prepare_network(tiny_srvgg(2, seed=5), "cpu", "fp32")  # same weights, another object
        assert len(steps) == 1
        prepare_network(tiny_srvgg(2, seed=6), "cpu", "fp32")  # other weights: converted again
        assert len(steps) == 2 and "converting" in steps[1]
    finally:
        report_long_steps(None)
    assert len(list((tmp_path / "openvino").glob("*.xml"))) == 2


def test_missing_openvino_falls_back_to_pytorch_with_one_note(monkeypatch):
    monkeypatch.setattr(optimize, "available", lambda: False)
    network = tiny_srvgg(2)
    with pytest.warns(Note) as notes:
        prepared = prepare_network(network, "cpu", "fp32")
    assert prepared.module is network
    assert len(notes) == 1 and "OpenVINO is not installed" in str(notes[0].message)


def test_a_failing_conversion_falls_back_to_pytorch_with_one_note(monkeypatch):
    def refuse(model, network, target, shape=None):
        raise RuntimeError("unsupported operation aten::frobnicate\nmore detail")

    monkeypatch.setattr(ov_engine, "convert_to_ir", refuse)
    network = tiny_srvgg(2, seed=9)
    with pytest.warns(Note) as notes:
        prepared = prepare_network(network, "cpu", "fp32")
    assert prepared.module is network
    assert len(notes) == 1
    assert "aten::frobnicate" in str(notes[0].message) and "PyTorch" in str(notes[0].message)


def test_gpus_and_half_precision_keep_pytorch():
    network = tiny_srvgg(2)
    model = describe(network)
    assert optimize.optimize_network(model, network, "cuda", torch.float16) is network
    assert optimize.optimize_network(model, network, "cuda", torch.float32) is network
    assert optimize.optimize_network(model, network, "cpu", torch.bfloat16) is network


def test_a_half_written_ir_is_never_trusted(tmp_path, monkeypatch):
    """Interrupted conversions leave no .xml: the weights file moves into place first."""
    monkeypatch.setenv("UPSCALE_CACHE", str(tmp_path))
    network = tiny_srvgg(2, seed=11)
    xml = ov_engine.ir_path(describe(network))
    xml.parent.mkdir(parents=True)
    xml.with_suffix(".bin").write_bytes(b"partial")  # a crash after the .bin, before the .xml
    module = ov_engine.openvino_network(describe(network))
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(module(x), network(x), rtol=TOLERANCE, atol=TOLERANCE)
