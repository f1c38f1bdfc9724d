"""ONNX files (``-m model.onnx``): run by OpenVINO, facts read from the graph, non-upscalers
refused in one line. The graphs are exported here from tiny networks."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_main, tiny_srvgg
from torch import nn

from upscale.imaging import read_image, write_image
from upscale.loading import load_model
from upscale.run import prepare_network, run_network

pytest.importorskip("openvino")


def export(network: nn.Module, path: Path, channels: int = 3) -> Path:
    """TorchScript-based export (no onnxscript needed), height and width symbolic."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(network.eval(), torch.rand(1, channels, 16, 16), str(path),
                          dynamo=False, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "n", 2: "h", 3: "w"},
                                        "output": {0: "n", 2: "oh", 3: "ow"}})
    return path


def test_an_onnx_export_gives_the_network_s_output(tmp_path, rng):
    network = tiny_srvgg(2, seed=5)
    graph = export(network, tmp_path / "tiny.onnx")
    model = load_model(graph)
    assert (model.architecture, model.scale, model.in_channels) == ("ONNX", 2, 3)
    image = rng.integers(0, 256, (20, 18, 3), dtype=np.uint8)
    source = write_image(tmp_path / "in.png", image)
    assert run_main(source, "-m", graph, "-o", tmp_path / "out.png", "-q") == 0
    expected = run_network(prepare_network(network, "cpu", "fp32", optimize=False), image)
    difference = np.abs(read_image(tmp_path / "out.png").astype(int) - expected).max()
    assert difference <= 1


class Classifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.head = nn.Conv2d(3, 8, 3), nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x).mean(dim=(2, 3)))


def test_a_graph_that_is_not_image_to_image_is_refused_in_one_line(tmp_path, capsys, rng):
    graph = tmp_path / "classifier.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Classifier().eval(), torch.rand(1, 3, 16, 16), str(graph),
                          dynamo=False)
    source = write_image(tmp_path / "in.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    assert run_main(source, "-m", graph, "-o", tmp_path / "out.png") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not an image-to-image ONNX graph" in err
    assert "classifier.onnx" in err


def test_alpha_with_an_onnx_graph_is_one_line(tmp_path, capsys, rng):
    graph = export(tiny_srvgg(2), tmp_path / "tiny.onnx")
    source = write_image(tmp_path / "in.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    assert run_main(source, "--psnr-model", graph, "--gan-model", graph, "--alpha", "0.5",
                    "-o", tmp_path / "out.png") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "ONNX" in err


def test_a_gpu_named_for_an_onnx_graph_is_refused_in_one_line(tmp_path, capsys, rng):
    """OpenVINO runs the graph on the CPU: a user who asked for the GPU hears it, and how to
    get the CPU run, rather than waiting on a CPU run that says nothing."""
    graph = export(tiny_srvgg(2), tmp_path / "tiny.onnx")
    source = write_image(tmp_path / "in.png", rng.integers(0, 256, (20, 18, 3), dtype=np.uint8))
    output = tmp_path / "out.png"
    assert run_main(source, "-m", graph, "--device", "cuda", "-o", output) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "tiny.onnx" in err and "--device cpu" in err
    assert not output.exists()


def test_an_onnx_graph_on_auto_runs_on_the_cpu_with_a_note_beside_a_gpu(tmp_path, capsys, rng,
                                                                      monkeypatch):
    network = tiny_srvgg(2, seed=3)
    graph = export(network, tmp_path / "tiny.onnx")
    image = rng.integers(0, 256, (20, 18, 3), dtype=np.uint8)
    source = write_image(tmp_path / "in.png", image)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a card is visible
    assert run_main(source, "-m", graph, "-o", tmp_path / "out.png") == 0
    assert "tiny.onnx: an ONNX graph runs on the CPU" in capsys.readouterr().err
    expected = run_network(prepare_network(network, "cpu", "fp32", optimize=False), image)
    assert np.abs(read_image(tmp_path / "out.png").astype(int) - expected).max() <= 1
