"""The converted packaged networks agree with ncnn itself running the same files.

ncnn on the CPU in fp32 (every fp16 option off) is the reference: our reading
of the .param/.bin, the layer-to-name mapping and the PyTorch architectures
must together reproduce its output to within one 8-bit level, on a real
photo (a bicubic-downscaled Set5 crop, as super-resolution inputs are).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from upscale.loading import find_model, load_model
from upscale.loading.sources import package_files
from upscale.run.cpu import optimize_network

ncnn = pytest.importorskip("ncnn")

from ncnn_oracle import reference_ncnn_net  # noqa: E402 - needs ncnn, skipped above without it

# x4plus costs ~36 MFLOP per input pixel in each of the two runs: keep its crop small.
CROPS = {"realesrgan-x4plus": 16, "realesr-animevideov3": 32}


def low_resolution_crop(sample_image: Path, size: int) -> np.ndarray:
    """A size x size RGB float crop of butterfly downscaled x4 with bicubic."""
    hr = cv2.cvtColor(cv2.imread(str(sample_image)), cv2.COLOR_BGR2RGB)
    lr = cv2.resize(hr, (hr.shape[1] // 4, hr.shape[0] // 4), interpolation=cv2.INTER_CUBIC)
    return lr[16:16 + size, 16:16 + size].astype(np.float32) / 255.0


def run_ncnn(param: Path, binary: Path, image: np.ndarray) -> np.ndarray:
    net = reference_ncnn_net(param, binary)
    chw = np.ascontiguousarray(image.transpose(2, 0, 1))  # ncnn.Mat borrows this memory
    extractor = net.create_extractor()
    extractor.input("data", ncnn.Mat(chw))
    status, out = extractor.extract("output")
    assert status == 0
    return np.array(out).transpose(1, 2, 0)


def run_torch(network: torch.nn.Module, image: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = network(torch.from_numpy(image.transpose(2, 0, 1).copy())[None])
    return out[0].numpy().transpose(1, 2, 0)


def to_8bit(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.int16)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CROPS))
def test_converted_network_matches_ncnn_within_one_level(name, sample_image, tmp_path,
                                                         monkeypatch):
    monkeypatch.setenv("UPSCALE_CACHE", str(tmp_path))
    source = next(s for s in find_model(name).sources if s.kind == "packaged")
    files = package_files(source.module, source.file)
    if files is None:
        pytest.skip(f"{source.location} is not installed")
    crop = CROPS[name]
    image = low_resolution_crop(sample_image, crop)
    reference = to_8bit(run_ncnn(*files, image))
    model = load_model(name)  # loaded once: the engine is built from the same module
    outputs = {"the plain network": run_torch(model.module, image)}
    engine = optimize_network(model, model.module, "cpu", torch.float32)
    outputs["the default CPU engine users get"] = run_torch(engine, image)
    for which, output in outputs.items():
        ours = to_8bit(output)
        assert ours.shape == reference.shape == (4 * crop, 4 * crop, 3)
        difference = np.abs(ours - reference)
        assert difference.max() <= 1, f"{which}: max difference {difference.max()}"
