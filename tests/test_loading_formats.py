"""Every key layout in every format loads back into a network with bit-identical outputs."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest
import torch
from helpers import tiny_rrdbnet, tiny_srvgg
from safetensors.torch import save_file

from upscale.archs import as_model
from upscale.errors import UnsupportedModelError, UpscaleError
from upscale.loading import load_model, load_state_dict


def original_esrgan_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """BasicSR names -> the original ESRGAN ``model.N`` sequential layout."""
    top = {"conv_first": "model.0", "conv_up1": "model.3", "conv_up2": "model.6",
           "conv_hr": "model.8", "conv_last": "model.10"}
    num_block = len({k.split(".")[1] for k in state if k.startswith("body.")})
    out = {}
    for key, value in state.items():
        name, kind = key.rsplit(".", 1)
        if m := re.match(r"body\.(\d+)\.rdb(\d)\.conv(\d)$", name):
            out[f"model.1.sub.{m[1]}.RDB{m[2]}.conv{m[3]}.0.{kind}"] = value
        elif name == "conv_body":
            out[f"model.1.sub.{num_block}.{kind}"] = value
        else:
            out[f"{top[name]}.{kind}"] = value
    return out


def new_arch_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """BasicSR names -> the ESRGAN "new arch" names (RRDB_trunk, trunk_conv, upconv, HRconv)."""
    renames = [(r"^body\.", "RRDB_trunk."), (r"\.rdb(\d)\.", r".RDB\1."),
               (r"^conv_body\.", "trunk_conv."), (r"^conv_up(\d)\.", r"upconv\1."),
               (r"^conv_hr\.", "HRconv.")]
    out = {}
    for key, value in state.items():
        for pattern, repl in renames:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


LAYOUTS = {
    "basicsr": lambda sd: sd,
    "basicsr-params-ema": lambda sd: {"params_ema": sd,
                                      "params": {k: torch.zeros_like(v) for k, v in sd.items()}},
    "basicsr-params": lambda sd: {"params": sd},
    "module-prefix": lambda sd: {f"module.{k}": v for k, v in sd.items()},
    "state-dict-wrapper": lambda sd: {"state_dict": sd, "epoch": 7},
    "original-esrgan": original_esrgan_keys,
    "new-arch": new_arch_keys,
}


def flat(obj: dict) -> dict[str, torch.Tensor]:
    """safetensors holds one flat mapping: keep the wrapper's chosen member only."""
    for key in ("params_ema", "params", "state_dict"):
        if key in obj:
            return obj[key]
    return obj


def write(path: Path, obj: dict) -> Path:
    if path.suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in flat(obj).items()}, str(path))
    else:
        torch.save(obj, path)
    return path


def same_outputs(a: torch.nn.Module, b: torch.nn.Module, size: int = 8) -> bool:
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        return torch.equal(as_model(a).module(x), as_model(b).module(x))


@pytest.mark.parametrize("suffix", [".pth", ".pt", ".safetensors"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_rrdbnet_layouts_round_trip_bit_identically(tmp_path, layout, suffix):
    original = tiny_rrdbnet(scale=4)
    path = write(tmp_path / f"net{suffix}", LAYOUTS[layout](original.state_dict()))
    loaded = load_model(path)
    assert loaded.architecture == "RRDBNet" and loaded.scale == 4
    assert same_outputs(original, loaded)


@pytest.mark.parametrize("scale", [1, 2, 8])
def test_rrdbnet_other_scales_are_detected(tmp_path, scale):
    original = tiny_rrdbnet(scale=scale)
    loaded = load_model(write(tmp_path / "net.pth", {"params_ema": original.state_dict()}))
    assert loaded.scale == scale
    assert same_outputs(original, loaded)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
@pytest.mark.parametrize("layout", ["basicsr", "basicsr-params-ema", "module-prefix"])
def test_srvgg_layouts_round_trip_bit_identically(tmp_path, layout, suffix):
    original = tiny_srvgg(scale=4)
    path = write(tmp_path / f"net{suffix}", LAYOUTS[layout](original.state_dict()))
    loaded = load_model(path)
    assert loaded.architecture == "SRVGGNetCompact" and loaded.scale == 4
    assert same_outputs(original, loaded)


def test_safetensors_metadata_is_kept_and_decides_the_activation(tmp_path):
    torch.manual_seed(0)
    from upscale.archs.srvgg import SRVGGNetCompact

    original = SRVGGNetCompact(num_feat=4, num_conv=1, scale=2, act_type="relu").eval()
    path = tmp_path / "relu.safetensors"
    save_file(original.state_dict(), str(path), metadata={"act_type": "relu"})
    state, metadata = load_state_dict(path)
    assert metadata["act_type"] == "relu" and metadata["format"] == "safetensors"
    assert set(state) == set(original.state_dict())
    loaded = load_model(path)
    assert loaded.hyperparameters["act_type"] == "relu"
    assert same_outputs(original, loaded)


def test_params_ema_wins_over_params(tmp_path):
    original = tiny_rrdbnet()
    path = write(tmp_path / "both.pth", LAYOUTS["basicsr-params-ema"](original.state_dict()))
    state, _ = load_state_dict(path)
    assert all(torch.equal(state[k], v) for k, v in original.state_dict().items())


def test_unknown_layout_fails_with_one_line_naming_what_was_found(tmp_path):
    path = write(tmp_path / "mystery.pth", {"encoder.weight": torch.zeros(4, 4),
                                            "decoder.bias": torch.zeros(4)})
    with pytest.raises(UnsupportedModelError) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message
    assert "mystery.pth" in message and "encoder.weight (4, 4)" in message


def test_hostile_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as handle:
        pickle.dump({"params_ema": Payload()}, handle)
    # And the same payload inside a modern zip checkpoint.
    zipped = tmp_path / "evil_zip.pth"
    torch.save({"params_ema": Payload()}, zipped)
    assert not marker.exists()
    for evil in (path, zipped):
        with pytest.raises(UpscaleError) as info:
            load_model(evil)
        assert "refused" in str(info.value) and "\n" not in str(info.value)
        assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04truncated"])
def test_garbage_files_give_one_line(tmp_path, content):
    for suffix in (".pth", ".safetensors"):
        path = tmp_path / f"garbage{suffix}"
        path.write_bytes(content)
        with pytest.raises(UpscaleError) as info:
            load_model(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_unknown_suffix_and_missing_file(tmp_path):
    weird = tmp_path / "net.h5"
    weird.write_bytes(b"x")
    with pytest.raises(UpscaleError, match="unknown weight format .h5"):
        load_model(weird)
    damaged = tmp_path / "net.onnx"
    damaged.write_bytes(b"x")
    with pytest.raises(UpscaleError, match="not a readable ONNX file") as info:
        load_model(damaged)
    assert "\n" not in str(info.value)
    with pytest.raises(UpscaleError, match="no such weight file"):
        load_model(tmp_path / "absent.pth")


@pytest.mark.parametrize("wrap", [
    lambda state: {"net": state},
    lambda state: {"params-ema": state},
    lambda state: {"netG." + key: value for key, value in state.items()},
    lambda state: {"state_dict": {"module.net_g." + key: value for key, value in state.items()}},
], ids=["net", "params-ema", "netG-prefix", "module-net_g-prefix"])
def test_training_wrappers_and_prefixes_load(tmp_path, wrap):
    original = tiny_rrdbnet()
    path = write(tmp_path / "wrapped.pth", wrap(original.state_dict()))
    assert same_outputs(original, load_model(path))


def test_random_bytes_are_not_called_a_pickle(tmp_path):
    path = tmp_path / "random.pth"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(UpscaleError) as info:
        load_model(path)
    assert "not a PyTorch checkpoint" in str(info.value)
    assert "could run code" not in str(info.value)
