"""What every architecture gets without our own kernels, tested without spandrel installed:
the one line when the ``upscale[models]`` extra is missing or broken, the measured
receptive radius and window alignment, and the measured choice of CPU engine."""

from __future__ import annotations

import dataclasses
import json
import sys
import time

import numpy as np
import pytest
import torch
from helpers import run_main, tiny_srvgg
from safetensors.torch import save_file
from torch import nn
from torch.nn import functional as F

from upscale.archs import build_model
from upscale.archs import spandrel as spandrel_arch
from upscale.archs.receptive import alignment, measure
from upscale.errors import UnsupportedModelError
from upscale.execute import execute
from upscale.imaging import read_image, write_image
from upscale.model import ModelDescriptor, SizeRequirements
from upscale.request import make_request
from upscale.run.advice import tiling_advice
from upscale.run.cpu import choice

UNKNOWN = {"encoder.weight": torch.zeros(4, 4), "decoder.bias": torch.zeros(4)}


def test_unknown_layout_without_the_extra_names_it_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(spandrel_arch, "installed", lambda: False)
    weights = tmp_path / "mystery.safetensors"
    save_file(UNKNOWN, str(weights))
    source = write_image(tmp_path / "in.png", np.zeros((8, 8, 3), np.uint8))
    assert run_main(source, "-m", weights, "-o", tmp_path / "out.png") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "upscale[models]" in err and "mystery.safetensors" in err


def test_spandrel_that_cannot_import_is_one_line_about_torchvision(monkeypatch):
    monkeypatch.setattr(spandrel_arch, "installed", lambda: True)
    monkeypatch.setitem(sys.modules, "spandrel", None)  # importing it now raises ImportError
    with pytest.raises(UnsupportedModelError) as info:
        build_model(UNKNOWN, source="mystery.pth")
    message = str(info.value)
    assert "\n" not in message and message.startswith("mystery.pth: spandrel is installed but")
    assert "torchvision" in message


def test_our_architectures_load_even_with_a_broken_spandrel(monkeypatch):
    monkeypatch.setattr(spandrel_arch, "installed", lambda: True)
    monkeypatch.setitem(sys.modules, "spandrel", None)
    assert build_model(tiny_srvgg(2).state_dict()).architecture == "SRVGGNetCompact"


def test_models_lists_the_architectures_and_the_extra(capsys, monkeypatch):
    monkeypatch.setattr(spandrel_arch, "installed", lambda: False)
    assert run_main("models") == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "RRDBNet" in out and 'pip install "upscale[models]"' in out


# --- the receptive radius, measured ----------------------------------------------------


def conv_stack(depth: int) -> nn.Module:
    torch.manual_seed(depth)
    layers = [layer for _ in range(depth) for layer in (nn.Conv2d(3, 3, 3, padding=1),
                                                        nn.Tanh())]
    return nn.Sequential(*layers).eval()


@pytest.mark.parametrize("depth", [3, 7])
def test_radius_of_a_convolution_stack_is_its_depth(depth):
    radius = measure(conv_stack(depth), SizeRequirements(), scale=1, channels=3)
    assert radius.bounded and depth - 1 <= radius.pixels <= depth


class GlobalMean(nn.Module):
    """Every output pixel depends on every input pixel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.5 + x.mean(dim=(2, 3), keepdim=True)


def test_a_network_that_sees_everything_is_unbounded():
    radius = measure(GlobalMean(), SizeRequirements(), scale=1, channels=3)
    assert not radius.bounded and radius.pixels > 40  # beyond the tiling default: blended


class Windowed(nn.Module):
    """Pads to whole 8-pixel windows by reflection and mixes each window: a toy Swin."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        padded = F.pad(x, (0, -w % 8, 0, -h % 8), mode="reflect")
        means = F.avg_pool2d(padded, 8)
        mixed = padded * 0.5 + F.interpolate(means, scale_factor=8, mode="nearest")
        return mixed[..., :h, :w]


def test_window_alignment_is_found_and_bounds_the_radius():
    size = alignment(Windowed(), SizeRequirements(), scale=1, channels=3)
    assert size.multiple_of == 8
    radius = measure(Windowed(), size, scale=1, channels=3)
    assert radius.bounded and radius.pixels <= 8
    assert alignment(conv_stack(2), SizeRequirements(), scale=1, channels=3).multiple_of == 1


# --- OpenVINO or PyTorch, measured once -----------------------------------------------


def custom_model(network: nn.Module) -> ModelDescriptor:
    return ModelDescriptor(module=network, architecture="ConvStack", scale=1, in_channels=3,
                           out_channels=3, size=SizeRequirements(), receptive_radius=3.0,
                           hyperparameters={})


def test_engine_verdict_is_measured_once_and_kept(tmp_path, monkeypatch):
    pytest.importorskip("openvino")
    monkeypatch.setenv("UPSCALE_CACHE", str(tmp_path))
    model = custom_model(conv_stack(3))
    verdict = choice.choose(model, model.module)
    assert verdict.engine in (choice.OPENVINO, choice.PYTORCH, choice.CHANNELS_LAST)
    assert verdict.openvino_s is not None and verdict.pytorch_s > 0
    saved = json.loads(choice.verdict_path(model).read_text())
    assert saved["engine"] == verdict.engine
    monkeypatch.setattr(choice, "measure", lambda *a: pytest.fail("measured twice"))
    assert choice.choose(model, model.module) == verdict
    x = torch.rand(1, 3, 20, 24)
    with torch.no_grad():
        torch.testing.assert_close(choice.fastest(model, model.module)(x), model.module(x),
                                   atol=1e-4, rtol=1e-4)


def test_an_openvino_crash_costs_only_the_measurement(tmp_path, monkeypatch):
    """The child process dies as a segfaulting compiler would: PyTorch runs the network, in
    whichever order of channels it ran faster."""
    pytest.importorskip("openvino")
    monkeypatch.setenv("UPSCALE_CACHE", str(tmp_path))
    crash = tmp_path / "crash.py"
    crash.write_text("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    monkeypatch.setattr(choice, "PROBE_COMMAND", [sys.executable, str(crash)])
    model = custom_model(SlowInNCHW().eval())
    verdict = choice.choose(model, model.module)
    assert verdict.engine == choice.CHANNELS_LAST and "died" in verdict.reason
    engine, x = choice.fastest(model, model.module), torch.rand(1, 3, 30, 40)
    assert isinstance(engine, choice.ChannelsLast)
    with torch.no_grad():
        torch.testing.assert_close(engine(x), model.module(x), atol=1e-5, rtol=1e-5)
        assert engine(x).is_contiguous()


class SlowInNCHW(nn.Module):
    """A convolution that is slow on NCHW input: the channels-last order is the faster."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_contiguous():
            time.sleep(0.05)
        return self.conv(x)


class SizeBakedIn(nn.Module):
    """Reshapes through Python ints, as DAT counts its windows: a trace holds at one size.
    Slow in PyTorch (not in a trace), so that OpenVINO is the faster."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_tracing():
            time.sleep(0.05)
        height, width = int(x.shape[2]), int(x.shape[3])
        return self.conv(x).reshape(1, 3 * height * width).reshape(1, 3, height, width)


def test_a_graph_fixed_to_its_traced_size_runs_traced_at_each_size(tmp_path, monkeypatch):
    """OpenVINO refuses every size but the traced one; traced per input size it is right,
    and it is kept when it is the faster."""
    pytest.importorskip("openvino")
    monkeypatch.setenv("UPSCALE_CACHE", str(tmp_path))
    model = custom_model(SizeBakedIn().eval())
    verdict = choice.choose(model, model.module)
    assert verdict.engine == choice.PER_SHAPE, verdict.reason
    assert "OpenVINO failed" in verdict.reason
    engine = choice.fastest(model, model.module)
    traced_before = len(list((tmp_path / "openvino").glob("*-at-*.xml")))
    for shape in [(1, 3, 100, 120), (1, 3, 130, 97), (1, 3, 100, 120), (1, 3, 20, 24)]:
        x = torch.rand(*shape)
        with torch.no_grad():
            torch.testing.assert_close(engine(x), model.module(x), atol=1e-5, rtol=1e-5)
    traced = len(list((tmp_path / "openvino").glob("*-at-*.xml")))
    assert traced == traced_before + 2  # 100×120 and 130×97 once each; 20×24 in PyTorch


# --- the architecture's own tiling advice ------------------------------------------------


def advised(network: nn.Module, tiling: str, radius: float) -> ModelDescriptor:
    return dataclasses.replace(custom_model(network), tiling=tiling, receptive_radius=radius)


def test_discouraged_tiling_is_noted_only_where_our_tiles_are_not_exact():
    """spandrel discourages tiling SwinIR, whose window-aligned tiles we measure to be exact:
    only tiles whose context falls short of what the network sees earn the note."""
    reaches_far = advised(GlobalMean(), "discouraged", radius=200.0)
    message = tiling_advice(reaches_far, tile=64, pad=40)
    assert message is not None and "ConvStack" in message and "--tile 0" in message
    assert tiling_advice(advised(conv_stack(3), "discouraged", radius=3.0), 64, pad=3) is None
    assert tiling_advice(reaches_far, tile=0, pad=40) is None  # automatic: whole when it fits
    assert tiling_advice(reaches_far, tile=64, pad=40, image_side=64) is None  # nothing cut
    assert tiling_advice(advised(GlobalMean(), "supported", 200.0), 64, pad=40) is None


def test_a_network_that_tiles_itself_is_noted_when_tiles_are_asked_for():
    message = tiling_advice(advised(GlobalMean(), "internal", 200.0), tile=64, pad=40)
    assert message is not None and "tiles the image itself" in message


def test_a_descriptor_refuses_tiling_advice_it_does_not_know():
    with pytest.raises(ValueError, match="tiling"):
        advised(conv_stack(2), "sometimes", 3.0)


@pytest.mark.parametrize("tiling", ["internal", "supported"])
def test_a_network_that_tiles_itself_runs_whole_when_tiles_are_automatic(tiling, tmp_path,
                                                                         monkeypatch, rng):
    """The memory estimate (here: one that asks for 32 px tiles) cannot see a network's own
    tiling; one that tiles itself gets the whole image, as its own call would."""
    from upscale.run import engine

    monkeypatch.setattr(engine, "auto_tile", lambda *args: 32)
    model = advised(GlobalMean(), tiling, radius=200.0)
    image = rng.integers(0, 256, (96, 80, 3), dtype=np.uint8)
    source = write_image(tmp_path / "in.png", image)
    request = make_request(source, output=tmp_path / "out.png", device="cpu", precision="fp32",
                           quiet=True)
    assert execute(request, load_network=lambda: model) == 0
    with torch.no_grad():
        whole = GlobalMean()(torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255)
    whole = np.rint(whole[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255)
    difference = np.abs(read_image(tmp_path / "out.png").astype(float) - whole).max()
    if tiling == "internal":
        assert difference <= 1
    else:  # the premise: 32 px tiles of this network are not the whole image's result
        assert difference > 1
