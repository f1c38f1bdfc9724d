"""`upscale eval`: the SR papers' protocol end to end, and the report around it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from helpers import tiny_rrdbnet
from rich.console import Console
from typer.testing import CliRunner

from upscale.cli import app
from upscale.cli.eval import Method, eval_command
from upscale.errors import InputError, UpscaleError
from upscale.eval.protocol import (
    EvalReport,
    ImageScore,
    classical_upscaler,
    dataset_images,
    evaluate,
    upscaler_for_network,
)
from upscale.eval.results import print_report, report_dict
from upscale.imaging import read_image, write_image


def test_bicubic_x4_on_set5_butterfly_reproduces_the_published_figure(sample_image, tmp_path):
    """Set5's butterfly under bicubic x4 is 22.10 dB in SR papers' per-image tables since
    SRCNN (the 28.42 dB Set5 mean is 31.78, 30.18, 22.10, 31.59 and 26.46 averaged)."""
    dataset = tmp_path / "set5"
    dataset.mkdir()
    (dataset / "butterfly.png").write_bytes(sample_image.read_bytes())
    out = tmp_path / "set5.json"
    eval_command(dataset, scale=4, method=Method.bicubic, json_path=out, quiet=True)
    result = json.loads(out.read_text())
    assert [image["name"] for image in result["images"]] == ["butterfly"]
    assert result["mean"]["psnr"] == pytest.approx(22.10, abs=0.01)
    assert result["mean"]["ssim"] == pytest.approx(0.7368, abs=0.002)


def make_dataset(folder: Path) -> Path:
    """A flat image (upscaled back perfectly: infinite PSNR) and a textured one."""
    folder.mkdir()
    write_image(folder / "flat.png", np.full((48, 40, 3), 90, np.uint8))
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:50, 0:44]
    wave = (127 + 80 * np.sin(x / 3.0) * np.cos(y / 4.0))[:, :, None]
    write_image(folder / "wave.png",
                np.clip(wave + rng.normal(0, 10, (50, 44, 3)), 0, 255).astype(np.uint8))
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_infinite_psnr_is_reported_sanely(tmp_path):
    images = dataset_images(make_dataset(tmp_path / "data"))
    report = evaluate(images, 4, classical_upscaler("bicubic"), method="bicubic")
    flat, wave = report.scores
    assert flat.psnr == math.inf and flat.ssim == pytest.approx(1.0)
    assert math.isfinite(wave.psnr) and wave.psnr > 10
    assert report.mean_psnr == math.inf  # no finite mean is honest here
    assert (wave.width, wave.height) == (44, 48)  # cropped to a multiple of 4

    console = Console(record=True, width=100)
    print_report(report, console)
    text = console.export_text()
    assert "∞" in text and "inf" not in text and "nan" not in text.lower()
    assert "mean" in text and "wall time" in text
    assert f"{wave.psnr:.2f}" in text

    data = json.loads(json.dumps(report_dict(report), allow_nan=False))
    assert data["images"][0]["psnr"] == "inf"
    assert data["mean"]["psnr"] == "inf"
    assert data["images"][1]["psnr"] == pytest.approx(wave.psnr, abs=1e-5)


def test_mean_of_finite_scores_is_the_plain_mean():
    report = EvalReport(dataset="d", method="m", scale=2, degradation="bicubic", seed=0, scores=[
        ImageScore("a", 8, 8, 30.0, 0.9, 0.1), ImageScore("b", 8, 8, 20.0, 0.7, 0.1)])
    assert report.mean_psnr == pytest.approx(25.0)
    assert report.mean_ssim == pytest.approx(0.8)


def test_better_methods_score_higher(tmp_path):
    images = dataset_images(make_dataset(tmp_path / "data"))[1:]
    scores = {m: evaluate(images, 2, classical_upscaler(m), method=m).mean_psnr
              for m in ("nearest", "bicubic")}
    assert scores["bicubic"] > scores["nearest"]


def test_network_path_with_a_tiny_network(tmp_path):
    images = dataset_images(make_dataset(tmp_path / "data"))
    upscaler = upscaler_for_network(tiny_rrdbnet(scale=4), device="cpu")
    report = evaluate(images, 4, upscaler, method="tiny", degradation="realesrgan", seed=1)
    assert [s.name for s in report.scores] == ["flat", "wave"]
    assert all(math.isfinite(s.psnr) and -1 <= s.ssim <= 1 for s in report.scores)


def test_cli_saves_lr_sr_and_comparison_strips(tmp_path):
    data = make_dataset(tmp_path / "data")
    save = tmp_path / "out"
    result = CliRunner().invoke(app, ["eval", str(data), "-s", "2", "--method", "lanczos",
                                      "--degradation", "realesrgan", "--seed", "3",
                                      "--save", str(save), "--compare", "--json",
                                      str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "lanczos ×2" in result.output and "realesrgan" in result.output
    assert read_image(save / "lr" / "wave.png").shape == (25, 22, 3)
    assert read_image(save / "sr" / "wave.png").shape == (50, 44, 3)
    strip = read_image(save / "compare" / "wave.png")
    assert strip.shape[0] == 50 and strip.shape[1] > 3 * 44
    assert json.loads((tmp_path / "r.json").read_text())["seed"] == 3


def test_clear_errors_for_what_a_user_can_fix(tmp_path):
    with pytest.raises(InputError, match="no such folder"):
        dataset_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images"):
        dataset_images(tmp_path / "empty")
    data = make_dataset(tmp_path / "data")
    with pytest.raises(InputError, match="--save"):
        evaluate(dataset_images(data), 2, classical_upscaler("bicubic"), method="b", compare=True)
    write_image(tmp_path / "tiny" / "t.png", np.zeros((12, 12, 3), np.uint8))
    with pytest.raises(InputError, match="too small"):
        evaluate(dataset_images(tmp_path / "tiny"), 4, classical_upscaler("bicubic"), method="b")
    result = CliRunner().invoke(app, ["eval", str(data), "-m", "x", "--method", "bicubic"])
    assert isinstance(result.exception, UpscaleError)
    assert "either -m/--model or --method" in str(result.exception)


def test_eval_measures_a_blend_of_two_networks(tmp_path):
    """The loader ``upscale`` runs a blend with is the one eval measures it with: α = 0 and
    α = 1 score exactly as the two ends do."""
    import torch
    from helpers import tiny_srvgg
    from safetensors.torch import save_file

    data = make_dataset(tmp_path / "data")
    psnr, gan = tmp_path / "psnr.safetensors", tmp_path / "gan.safetensors"
    network = tiny_srvgg(2)
    save_file(network.state_dict(), str(psnr))
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.mul_(1.1)  # a fine-tune: close to its start, so the pair is related
    save_file(network.state_dict(), str(gan))

    def mean_psnr(*args) -> float:
        out = tmp_path / "r.json"
        result = CliRunner().invoke(app, ["eval", str(data), "-s", "2", "-q", "--json",
                                          str(out), *args])
        assert result.exit_code == 0, result.output
        return json.loads(out.read_text())["images"][1]["psnr"]

    pair = ["--psnr-model", str(psnr), "--gan-model", str(gan), "--alpha"]
    ends = mean_psnr("-m", str(psnr)), mean_psnr("-m", str(gan))
    assert mean_psnr(*pair, "0") == ends[0] and mean_psnr(*pair, "1") == ends[1]
    assert math.isfinite(mean_psnr(*pair, "0.5"))
    assert ends[0] != ends[1]
