"""Blends as a user gets them: `upscale blend`, the (A, B, α) cache, and the model families."""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest
import torch
from helpers import tiny_rrdbnet, tiny_srvgg
from safetensors import safe_open
from safetensors.torch import save_file
from test_blend import fine_tune

from upscale.archs import as_model
from upscale.errors import UpscaleError
from upscale.imaging import write_image
from upscale.loading import interpolation as blend_module
from upscale.loading import load_choice, load_model, load_state_dict, weights_dirs
from upscale.loading.families import families
from upscale.loading.interpolation import (
    LineageWarning,
    blend_state_dicts,
    check_lineage,
    load_blended_model,
    weights_sha256,
)
from upscale.request import NetworkChoice


def load_family_model(model, alpha=None):
    """``-m MODEL [--alpha α]``, as a run loads it."""
    return load_choice(NetworkChoice(str(model), alpha))


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test gets an empty cache and weights folder, and no network."""
    monkeypatch.setenv("UPSCALE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("UPSCALE_OFFLINE", "1")
    sources = importlib.import_module(weights_dirs.__module__)  # where the weights folders live
    monkeypatch.setattr(sources, "REPO_WEIGHTS", tmp_path / "no-weights")


@pytest.fixture(scope="module")
def packaged_cache(tmp_path_factory) -> str:
    """One conversion of the packaged ncnn files for all tests that use them."""
    return str(tmp_path_factory.mktemp("packaged-cache"))


@pytest.fixture(scope="module")
def tuned_pair() -> tuple[torch.nn.Module, torch.nn.Module]:
    psnr = tiny_rrdbnet(seed=0)
    return psnr, fine_tune(psnr)


@pytest.fixture
def pair_files(tmp_path, tuned_pair):
    psnr, gan = tuned_pair
    psnr_path, gan_path = tmp_path / "psnr.pth", tmp_path / "gan.safetensors"
    torch.save({"params_ema": psnr.state_dict()}, psnr_path)
    save_file(gan.state_dict(), str(gan_path))
    return psnr_path, gan_path


def upscale_in_process(capsys, *args) -> tuple[int, str]:
    """The same command line through the CLI's entry point, without a new interpreter."""
    from upscale.cli import main

    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, " ".join(capsys.readouterr().err.split())


def output(network: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return as_model(network).module(x)


def test_blend_command_writes_a_checkpoint_that_loads_like_any_model(pair_files, tmp_path,
                                                                   capsys):
    psnr_path, gan_path = pair_files
    out = tmp_path / "blended.safetensors"
    code, err = upscale_in_process(capsys, "blend", psnr_path, gan_path, "--alpha", "0.8",
                                   "-o", out)
    assert code == 0, err
    assert "warning" not in err

    psnr_state, _ = load_state_dict(psnr_path)
    gan_state, _ = load_state_dict(gan_path)
    expected = blend_state_dicts(psnr_state, gan_state, 0.8).state
    reloaded = load_model(out)
    x = torch.rand(1, 3, 9, 7)
    in_memory = load_blended_model(psnr_path, gan_path, 0.8)
    assert torch.equal(output(reloaded, x), output(in_memory, x))
    for key, value in reloaded.module.state_dict().items():
        assert torch.equal(value, expected[key]), key

    with safe_open(str(out), framework="pt") as handle:
        meta = handle.metadata()
    assert float(meta["blend_alpha"]) == 0.8
    assert meta["blend_psnr_sha256"] == weights_sha256(psnr_state)
    assert meta["blend_gan_sha256"] == weights_sha256(gan_state)
    assert len(meta["blend_psnr_sha256"]) == 64


def test_blend_command_keeps_an_existing_output(pair_files, tmp_path, capsys):
    out = tmp_path / "blended.safetensors"
    out.write_bytes(b"precious")
    code, err = upscale_in_process(capsys, "blend", *pair_files, "--alpha", "0.5", "-o", out)
    assert code == 2
    assert "already exists" in err
    assert out.read_bytes() == b"precious"


def test_blend_command_refuses_alpha_outside_zero_one(pair_files, tmp_path, capsys):
    code, err = upscale_in_process(capsys, "blend", *pair_files, "--alpha", "1.2",
                                   "-o", tmp_path / "x.safetensors")
    assert code == 2
    assert "--alpha must be between 0" in err
    assert "Traceback" not in err


def test_blend_command_names_the_first_differing_tensor(tmp_path, capsys):
    narrow, other = tmp_path / "narrow.safetensors", tmp_path / "srvgg.safetensors"
    save_file(tiny_rrdbnet().state_dict(), str(narrow))
    save_file(tiny_srvgg(scale=4).state_dict(), str(other))
    code, err = upscale_in_process(capsys, "blend", narrow, other, "--alpha", "0.5",
                                   "-o", tmp_path / "x.safetensors")
    assert code == 2
    assert "not the same architecture (conv_first.weight (8, 3, 3, 3) is in" in err
    assert "Traceback" not in err
    assert not (tmp_path / "x.safetensors").exists()


def test_blend_command_warns_about_an_unrelated_pair(tmp_path, capsys):
    first, stranger = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_file(tiny_rrdbnet(seed=0).state_dict(), str(first))
    save_file(tiny_rrdbnet(seed=5).state_dict(), str(stranger))
    code, err = upscale_in_process(capsys, "blend", first, stranger, "--alpha", "0.5",
                                   "-o", tmp_path / "c.safetensors")
    assert code == 0, err
    assert "warning:" in err and "do not look related" in err
    assert (tmp_path / "c.safetensors").is_file()


def test_a_run_with_an_unrelated_pair_warns_even_when_quiet(tmp_path, rng, capsys):
    first, stranger = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_file(tiny_rrdbnet(seed=0).state_dict(), str(first))
    save_file(tiny_rrdbnet(seed=5).state_dict(), str(stranger))
    photo = write_image(tmp_path / "photo.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    code, err = upscale_in_process(capsys, photo, "--psnr-model", first, "--gan-model",
                                   stranger, "--alpha", "0.5", "-q")
    assert code == 0, err
    assert err.count("warning:") == 1 and "do not look related" in err


def test_repeated_blends_come_from_the_cache(pair_files, tmp_path, monkeypatch):
    x = torch.rand(1, 3, 6, 6)
    first = output(load_blended_model(*pair_files, 0.3), x)
    assert len(list((tmp_path / "cache" / "blends").glob("*.safetensors"))) == 1

    def no_reblending(*args, **kwargs):
        raise AssertionError("blended again instead of using the cache")

    monkeypatch.setattr(blend_module, "blend_state_dicts", no_reblending)
    assert torch.equal(output(load_blended_model(*pair_files, 0.3), x), first)
    with pytest.raises(AssertionError, match="blended again"):
        load_blended_model(*pair_files, 0.4)  # another α is another blend


def test_cached_blend_of_an_unrelated_pair_still_warns(tmp_path):
    first, stranger = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_file(tiny_rrdbnet(seed=0).state_dict(), str(first))
    save_file(tiny_rrdbnet(seed=5).state_dict(), str(stranger))
    for _ in range(2):
        with pytest.warns(LineageWarning, match=r"1\.\d\d apart"):
            load_blended_model(first, stranger, 0.5)


def test_alpha_zero_and_one_through_the_loader_are_the_end_models(pair_files):
    x = torch.rand(1, 3, 5, 5)
    for alpha, end in ((0.0, pair_files[0]), (1.0, pair_files[1])):
        assert torch.equal(output(load_blended_model(*pair_files, alpha), x),
                           output(load_model(end), x))


def test_a_damaged_cache_entry_is_rebuilt(pair_files, tmp_path):
    x = torch.rand(1, 3, 6, 6)
    first = output(load_blended_model(*pair_files, 0.6), x)
    (entry,) = (tmp_path / "cache" / "blends").glob("*.safetensors")
    entry.write_bytes(b"not a safetensors file")
    assert torch.equal(output(load_blended_model(*pair_files, 0.6), x), first)


def test_relu_srvgg_blend_keeps_its_activation(tmp_path):
    psnr = tiny_srvgg(scale=2)
    psnr_relu = type(psnr)(num_feat=4, num_conv=1, scale=2, act_type="relu").eval()
    psnr_relu.load_state_dict(psnr.state_dict(), strict=False)
    gan_relu = fine_tune(psnr_relu)
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_file(psnr_relu.state_dict(), str(a), metadata={"act_type": "relu"})
    save_file(gan_relu.state_dict(), str(b), metadata={"act_type": "relu"})
    x = torch.rand(1, 3, 5, 5) - 0.5
    for _ in range(2):  # blended, then from the cache
        network = load_blended_model(a, b, 1.0 if _ == 0 else 0.5)
        assert network.hyperparameters["act_type"] == "relu"
    assert torch.equal(output(load_blended_model(a, b, 1.0), x), output(gan_relu, x))


def test_families_pair_the_psnr_and_gan_networks():
    found = families()
    assert (found["realesrgan-x4plus"].psnr, found["realesrgan-x4plus"].gan) == (
        "realesrnet-x4plus", "realesrgan-x4plus")
    assert (found["realesr-general-x4v3"].psnr, found["realesr-general-x4v3"].gan) == (
        "realesr-general-wdn-x4v3", "realesr-general-x4v3")


@pytest.mark.parametrize(("family", "missing", "file"), [
    ("realesrgan-x4plus", "realesrnet-x4plus", "RealESRNet_x4plus.pth"),
    ("realesr-general-x4v3", "realesr-general-wdn-x4v3", "realesr-general-wdn-x4v3.pth"),
])
def test_offline_default_pairs_fail_with_the_registry_message(family, missing, file):
    with pytest.raises(UpscaleError) as info:
        load_family_model(family, 0.8)
    message = str(info.value)
    assert f"model {missing!r} is not available offline" in message
    assert file in message
    assert "https://github.com/xinntao/Real-ESRGAN/releases/" in message
    assert "\n" not in message


def test_alpha_needs_a_family_or_an_explicit_pair():
    with pytest.raises(UpscaleError, match="--alpha needs a model family"):
        load_family_model("realesrgan-x4plus-anime-6b", 0.5)
    with pytest.raises(UpscaleError, match="--alpha must be between 0"):
        load_family_model("realesrgan-x4plus", -1)


def test_without_alpha_a_family_runs_its_default_member(tmp_path, packaged_cache, monkeypatch):
    monkeypatch.setenv("UPSCALE_CACHE", packaged_cache)
    path = tmp_path / "plain.safetensors"
    save_file(tiny_srvgg(scale=2).state_dict(), str(path))
    assert load_family_model(path).scale == 2  # not a family: plainly that model
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        network = load_family_model("realesrgan-x4plus")
    assert network.source.startswith("realesrgan-x4plus")


@pytest.mark.slow
def test_packaged_unrelated_pair_is_flagged_with_its_distance(packaged_cache, monkeypatch):
    """RealESRGAN x4plus and RealSR DF2K: same 23-block RRDBNet, separate trainings."""
    monkeypatch.setenv("UPSCALE_CACHE", packaged_cache)
    a, _ = load_state_dict("realesrgan-x4plus")
    b, _ = load_state_dict("realsr-df2k-x4")
    with pytest.warns(LineageWarning, match=r"are 0\.9\d apart"):
        distance = check_lineage(a, b, "realesrgan-x4plus", "realsr-df2k-x4")
    assert distance == pytest.approx(0.95, abs=0.01)


@pytest.mark.parametrize("member", ["realesrnet-x4plus", "realesr-general-wdn-x4v3",
                                    "realesrgan-x4plus", "realesr-general-x4v3"])
def test_a_family_member_named_without_alpha_is_that_member(member, monkeypatch):
    """The PSNR half of an α pair runs by its own name, not as the family's GAN default."""
    import upscale.loading

    loaded = []
    monkeypatch.setattr(upscale.loading, "load_model",
                        lambda spec, **kwargs: loaded.append(spec) or spec)
    assert load_family_model(member) == member
    assert loaded == [member]
