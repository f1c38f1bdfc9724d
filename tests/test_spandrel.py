"""spandrel's architectures through ``upscale``: loaded from our own reader, run like spandrel.

Each architecture is a tiny random-weight network built with spandrel's own class
(:mod:`spandrel_nets`), saved as ``.pth`` or ``.safetensors`` and run through the
``upscale`` command: whole, tiled and as a 3-frame video, every output within one
8-bit level of spandrel's own model call. Nothing is downloaded.

These need the ``upscale[models]`` extra (spandrel, and a torchvision that matches
torch), so CI runs them in a second virtual environment with PyPI's standard torch.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch

pytest.importorskip("spandrel", exc_type=ImportError,
                    reason="needs the models extra: pip install -e \".[models,test]\" "
                    "with a torch and torchvision that match (README: Which torch)")

from helpers import run_main  # noqa: E402
from safetensors.torch import save_file  # noqa: E402 - after the skip
from spandrel_nets import ARCHITECTURES, SCALE, spandrel_call, tiny, tiny_srformer  # noqa: E402

from upscale.imaging import read_image, write_image  # noqa: E402
from upscale.loading import load_model  # noqa: E402

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
HEIGHT, WIDTH = 40, 36


def save(network: torch.nn.Module, path: Path) -> Path:
    if path.suffix == ".safetensors":
        save_file(network.state_dict(), str(path))
    else:
        torch.save({"params_ema": network.state_dict()}, path)  # BasicSR's wrapper
    return path


def expected(state: dict[str, torch.Tensor], image: np.ndarray) -> np.ndarray:
    """spandrel's own call on an H×W×3 uint8 image, as uint8."""
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    y = spandrel_call(state, x)[0].permute(1, 2, 0).numpy()
    return np.rint(y * 255).astype(np.uint8)


def level_difference(a: np.ndarray, b: np.ndarray) -> int:
    assert a.shape == b.shape
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


@pytest.fixture
def image(rng) -> np.ndarray:
    """Smooth content with some noise: what a photo's crop looks like to a network."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    base = np.stack([128 + 90 * np.sin(x / 5 + c) * np.cos(y / 7) for c in range(3)], -1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
@pytest.mark.parametrize("name", ARCHITECTURES)
def test_each_architecture_runs_like_spandrel_whole_and_tiled(name, suffix, image, tmp_path):
    network = tiny(name)
    weights = save(network, tmp_path / f"{name}{suffix}")
    source = write_image(tmp_path / "in.png", image)
    reference = expected(network.state_dict(), image)
    assert run_main(source, "-m", weights, "-o", tmp_path / "whole.png", "-q") == 0
    assert level_difference(read_image(tmp_path / "whole.png"), reference) <= 1
    assert run_main(source, "-m", weights, "-o", tmp_path / "tiled.png", "--tile", "16",
                    "-q") == 0
    # Networks whose reach has no measured bound (OmniSR, RealCUGAN, RealPLKSR) get tiles
    # blended across their seams, added in float32 and rounded once: within 1 level too.
    assert level_difference(read_image(tmp_path / "tiled.png"), reference) <= 1


def test_an_extra_architecture_runs_like_spandrel_whole_and_tiled(image, tmp_path, capsys):
    """With spandrel-extra-arches installed (``upscale[models-extra]``), its architectures
    load like spandrel's own: SRFormer here, registered by upscale, not by the test."""
    pytest.importorskip("spandrel_extra_arches", reason="needs upscale[models-extra]")
    network = tiny_srformer()
    weights = save(network, tmp_path / "srformer.pth")
    source = write_image(tmp_path / "in.png", image)
    assert run_main(source, "-m", weights, "-o", tmp_path / "whole.png", "-q") == 0
    reference = expected(network.state_dict(), image)  # spandrel knows SRFormer from here on
    assert level_difference(read_image(tmp_path / "whole.png"), reference) <= 1
    assert run_main(source, "-m", weights, "-o", tmp_path / "tiled.png", "--tile", "16",
                    "-q") == 0
    assert level_difference(read_image(tmp_path / "tiled.png"), reference) <= 1
    assert run_main("models") == 0
    assert "SRFormer" in capsys.readouterr().out


def frames_of(path: Path, width: int, height: int) -> np.ndarray:
    raw = subprocess.run([FFMPEG, "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt",
                          "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_each_architecture_runs_like_spandrel_in_a_video(name, tmp_path):
    """Three frames in, three out, each within one level of spandrel's call on that frame.

    Source and output are lossless RGB (ffv1 bgr0; an RGB source stays RGB), so the
    comparison sees the network and nothing of a YUV conversion.
    """
    network = tiny(name)
    weights = save(network, tmp_path / f"{name}.safetensors")
    clip = tmp_path / "clip.mkv"
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size={WIDTH}x{HEIGHT}:rate=24:duration=0.125", "-c:v", "ffv1",
                    "-pix_fmt", "bgr0", str(clip)], check=True)
    output = tmp_path / "clip_x2.mkv"
    assert run_main(clip, "-m", weights, "-o", output, "--codec", "ffv1", "-q") == 0
    given = frames_of(clip, WIDTH, HEIGHT)
    made = frames_of(output, WIDTH * SCALE, HEIGHT * SCALE)
    assert len(given) == len(made) == 3
    for frame, result in zip(given, made, strict=True):
        assert level_difference(result, expected(network.state_dict(), frame)) <= 1


def test_descriptor_carries_spandrel_facts(tmp_path):
    model = load_model(save(tiny("DAT"), tmp_path / "dat.safetensors"))
    assert (model.architecture, model.scale, model.in_channels, model.out_channels) == (
        "DAT", SCALE, 3, 3)
    assert model.size.minimum == 16  # spandrel's size requirements
    assert not model.supports_half and model.supports_bfloat16  # DAT overflows in fp16
    assert "measured" in model.hyperparameters["receptive_radius"]


def test_spandrel_tiling_advice_is_weighed_against_the_measured_radius(tmp_path, image, capsys):
    """spandrel discourages tiling SwinIR; its window-aligned tiles are measured exact here,
    so --tile runs without a warning (and within a level of the whole, as tested above)."""
    weights = save(tiny("SwinIR"), tmp_path / "swinir.safetensors")
    assert load_model(weights).tiling == "discouraged"
    assert load_model(save(tiny("SPAN"), tmp_path / "span.safetensors")).tiling == "supported"
    source = write_image(tmp_path / "in.png", image)
    assert run_main(source, "-m", weights, "-o", tmp_path / "tiled.png", "--tile", "16") == 0
    assert "discourage" not in capsys.readouterr().err


def test_alpha_half_between_two_checkpoints_is_the_network_of_averaged_weights(image, tmp_path):
    first, second = tiny("SPAN", seed=1), tiny("SPAN", seed=2)
    a = save(first, tmp_path / "a.pth")
    b = save(second, tmp_path / "b.safetensors")
    source = write_image(tmp_path / "in.png", image)
    assert run_main(source, "--psnr-model", a, "--gan-model", b, "--alpha", "0.5",
                    "-o", tmp_path / "blend.png", "-q") == 0
    averaged = {key: (value + second.state_dict()[key]) / 2
                for key, value in first.state_dict().items()}
    assert level_difference(read_image(tmp_path / "blend.png"), expected(averaged, image)) <= 1


def test_alpha_between_different_architectures_is_one_line(tmp_path, capsys, image):
    a = save(tiny("SPAN"), tmp_path / "a.pth")
    b = save(tiny("OmniSR"), tmp_path / "b.pth")
    source = write_image(tmp_path / "in.png", image)
    assert run_main(source, "--psnr-model", a, "--gan-model", b, "--alpha", "0.5",
                    "-o", tmp_path / "blend.png") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_half_precision_where_the_architecture_supports_it(image):
    from upscale.archs import build_model
    from upscale.run import prepare_network, run_network

    model = build_model(tiny("SPAN").state_dict(), source="span")
    assert model.supports_half
    full = run_network(prepare_network(model, "cpu", "fp32"), image)
    prepared = prepare_network(model, "cpu", "fp16", allow_slow_half=True)
    assert prepared.dtype == torch.float16
    half = run_network(prepared, image)
    # a random network amplifies fp16's rounding in places; on average it is well under a level
    assert np.abs(full.astype(np.float32) - half).mean() < 0.5


def test_half_precision_is_refused_in_one_line_where_it_is_not(tmp_path, capsys, image):
    weights = save(tiny("DAT"), tmp_path / "dat.pth")
    source = write_image(tmp_path / "in.png", image)
    assert run_main(source, "-m", weights, "--precision", "fp16", "-o", tmp_path / "o.png") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "fp16" in err and "DAT" in err


def test_hostile_pickle_is_refused_before_spandrel_sees_anything(tmp_path, monkeypatch, capsys,
                                                                 image):
    import spandrel

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    def spandrel_must_not_run(*args, **kwargs):
        raise AssertionError("spandrel saw the checkpoint")

    monkeypatch.setattr(spandrel.ModelLoader, "load_from_state_dict", spandrel_must_not_run)
    evil = tmp_path / "evil.pth"
    torch.save({"params_ema": tiny("SPAN").state_dict(), "extra": Payload()}, evil)
    source = write_image(tmp_path / "in.png", image)
    assert run_main(source, "-m", evil, "-o", tmp_path / "o.png") == 2
    err = capsys.readouterr().err.strip()
    assert "refused" in err and len(err.splitlines()) == 1
    assert not marker.exists()


def test_models_lists_spandrel_architectures(capsys):
    assert run_main("models") == 0
    out = capsys.readouterr().out
    for name in ("SPAN", "DAT", "HAT", "SwinIR", "OmniSR", "RealCUGAN", "Swin2SR"):
        assert name in out


def test_an_onnx_export_of_span_matches_spandrel(image, tmp_path):
    import warnings

    network = tiny("SPAN")
    graph = tmp_path / "span.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(network, torch.rand(1, 3, 16, 16), str(graph), dynamo=False,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {2: "h", 3: "w"}, "output": {2: "oh", 3: "ow"}})
    source = write_image(tmp_path / "in.png", image)
    assert run_main(source, "-m", graph, "-o", tmp_path / "onnx.png", "-q") == 0
    reference = expected(network.state_dict(), image)
    assert level_difference(read_image(tmp_path / "onnx.png"), reference) <= 1


def test_a_loaded_network_pickles_as_ray_sends_it(tmp_path):
    """Folders and videos on Ray ship the loaded descriptor to the actors."""
    import pickle

    model = load_model(save(tiny("HAT"), tmp_path / "hat.safetensors"))
    copy = pickle.loads(pickle.dumps(model))
    x = torch.rand(1, 3, 20, 24)
    with torch.no_grad():
        assert torch.equal(copy.module(x), model.module(x))
    assert (copy.architecture, copy.size, copy.weights_sha256) == (
        model.architecture, model.size, model.weights_sha256)
