"""ncnn ``.param`` + ``.bin`` pairs, read into state dicts with BasicSR names. The ``.bin`` is
every layer's weights back to back, so each layer takes exactly the bytes it owns and they
must add up to the file's length: a misunderstood layer is an error, not shifted weights."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import UnsupportedModelError

MAGIC = 7767517
TAG_FP32 = 0x00000000
TAG_FP16 = 0x01306B47
ARRAY_KEY_BASE = -23300  # ncnn writes array parameter k as key -23300 - k

# Layers that own no bytes in the .bin file; anything else we do not know is refused,
# because we could not tell how many bytes it would consume.
WEIGHTLESS = frozenset({
    "Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp", "PixelShuffle", "ReLU",
    "Sigmoid", "Clip", "Crop", "Reshape", "Permute", "Flatten", "Noop", "Reorg", "Padding",
})
FUSED_ACTIVATIONS = {1: "relu", 2: "leakyrelu"}  # a Convolution's parameter 9


@dataclass
class Layer:
    """One line of a .param file."""

    type: str
    name: str
    params: dict[int, int | float | list[int | float]] = field(default_factory=dict)
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def _parse_params(items: list[str], where: str) -> dict[int, int | float | list[int | float]]:
    params: dict[int, int | float | list[int | float]] = {}
    for item in items:
        key_text, sep, value = item.partition("=")
        if not sep:
            raise UnsupportedModelError(f"{where}: bad parameter {item!r}")
        key = int(key_text)
        if key <= ARRAY_KEY_BASE:
            count, *values = value.split(",")
            if len(values) != int(count):
                raise UnsupportedModelError(f"{where}: array parameter {item!r} has a wrong count")
            params[ARRAY_KEY_BASE - key] = [_number(v) for v in values]
        else:
            params[key] = _number(value)
    return params


def parse_param(path: Path) -> list[Layer]:
    """The layers of a text ``.param`` file, in file order."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnsupportedModelError(
            f"{path}: not a readable ncnn .param text file ({exc})") from exc
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != [str(MAGIC)]:
        raise UnsupportedModelError(f"{path}: not an ncnn .param file (no {MAGIC} magic line)")
    try:
        layer_count = int(lines[1][0])
        layers = []
        for number, fields in enumerate(lines[2:], start=3):
            where = f"{path}, line {number}"
            kind, name, n_in, n_out = fields[0], fields[1], int(fields[2]), int(fields[3])
            params = _parse_params(fields[4 + n_in + n_out:], where)  # after bottoms and tops
            layers.append(Layer(kind, name, params))
    except (IndexError, ValueError) as exc:
        raise UnsupportedModelError(f"{path}: malformed ncnn .param file ({exc})") from exc
    if len(layers) != layer_count:
        raise UnsupportedModelError(
            f"{path}: header says {layer_count} layers but the file has {len(layers)}")
    return layers


class _BinReader:
    """Sequential reads from the .bin bytes, with errors that name the layer."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.offset = data, path, 0

    def take(self, size: int, layer: Layer) -> memoryview:
        if self.offset + size > len(self.data):
            raise UnsupportedModelError(
                f"{self.path}: ends at byte {len(self.data)} but layer {layer.name} needs "
                f"bytes {self.offset}..{self.offset + size}; .param and .bin do not match")
        chunk = memoryview(self.data)[self.offset:self.offset + size]
        self.offset += size
        return chunk

    def raw_fp32(self, count: int, layer: Layer) -> torch.Tensor:
        values = np.frombuffer(self.take(4 * count, layer), dtype="<f4")
        return torch.from_numpy(values.astype(np.float32))

    def tagged(self, count: int, layer: Layer) -> torch.Tensor:
        """Weights behind a storage tag: fp32 or fp16 (padded to 4 bytes)."""
        tag = int.from_bytes(self.take(4, layer), "little")
        if tag == TAG_FP32:
            return self.raw_fp32(count, layer)
        if tag == TAG_FP16:
            padded = (2 * count + 3) // 4 * 4
            values = np.frombuffer(self.take(padded, layer)[:2 * count], dtype="<f2")
            return torch.from_numpy(values.astype(np.float32))
        raise UnsupportedModelError(
            f"{self.path}: layer {layer.name} stores its weights with tag 0x{tag:08X} "
            "(quantized or int8); only fp32 and fp16 ncnn weights are supported")


def _read_convolution(layer: Layer, reader: _BinReader) -> None:
    out_ch = int(layer.params.get(0, 0))
    kernel_w = int(layer.params.get(1, 0))
    kernel_h = int(layer.params.get(11, kernel_w))
    count = int(layer.params.get(6, 0))
    if int(layer.params.get(7, 1)) != 1:
        raise UnsupportedModelError(f"{reader.path}: grouped convolution {layer.name} is not "
                                    "part of any supported architecture")
    if out_ch <= 0 or kernel_w <= 0 or count % (out_ch * kernel_w * kernel_h):
        raise UnsupportedModelError(
            f"{reader.path}: convolution {layer.name} has inconsistent sizes "
            f"({out_ch} outputs, {kernel_w}x{kernel_h} kernel, {count} weights)")
    in_ch = count // (out_ch * kernel_w * kernel_h)
    layer.tensors["weight"] = reader.tagged(count, layer).reshape(out_ch, in_ch, kernel_h, kernel_w)
    if int(layer.params.get(5, 0)):
        layer.tensors["bias"] = reader.raw_fp32(out_ch, layer)


def read_weights(layers: list[Layer], bin_path: Path) -> None:
    """Fill ``layer.tensors`` from the .bin file; its size must add up exactly."""
    try:
        data = Path(bin_path).read_bytes()
    except OSError as exc:
        raise UnsupportedModelError(f"{bin_path}: cannot read the ncnn weights ({exc})") from exc
    reader = _BinReader(data, Path(bin_path))
    for layer in layers:
        if layer.type == "Convolution":
            _read_convolution(layer, reader)
        elif layer.type == "PReLU":
            layer.tensors["weight"] = reader.raw_fp32(int(layer.params.get(0, 1)), layer)
        elif layer.type not in WEIGHTLESS:
            raise UnsupportedModelError(
                f"{bin_path}: ncnn layer {layer.name} of type {layer.type} is not supported "
                "(ESRGAN-family exports use Convolution and PReLU)")
    if reader.offset != len(data):
        raise UnsupportedModelError(
            f"{bin_path}: {len(data) - reader.offset} bytes left over after the last layer; "
            ".param and .bin do not match")


def _rrdbnet_names(layers: list[Layer], where: Path) -> dict[str, torch.Tensor]:
    """Name RRDBNet convolutions by the upsampling Interps before them: none (conv_first, 15
    per block, conv_body), k (conv_up{k}), and after the last also conv_hr and conv_last."""
    groups: list[list[Layer]] = [[]]
    for layer in layers:
        if layer.type == "Interp" and float(layer.params.get(1, 1.0)) > 1.0:  # an upsampling
            groups.append([])
        elif layer.type == "Convolution":
            groups[-1].append(layer)
    trunk, ups = groups[0], groups[1:]
    shape_ok = (len(ups) in (2, 3) and len(trunk) >= 2 and (len(trunk) - 2) % 15 == 0
                and all(len(g) == 1 for g in ups[:-1]) and len(ups[-1]) == 3)
    if not shape_ok:
        raise UnsupportedModelError(
            f"{where}: ncnn graph has concatenations like RRDBNet but its convolutions do not "
            f"fit it ({len(trunk)} before upsampling, {[len(g) for g in ups]} after)")
    blocks = [f"body.{i // 15}.rdb{i % 15 // 5 + 1}.conv{i % 5 + 1}" for i in range(len(trunk) - 2)]
    upsampling = [f"conv_up{k}" for k in range(1, len(ups) + 1)]
    names = ["conv_first", *blocks, "conv_body", *upsampling, "conv_hr", "conv_last"]
    convs = trunk + [layer for group in ups for layer in group]
    return {f"{name}.{kind}": tensor for name, layer in zip(names, convs, strict=True)
            for kind, tensor in layer.tensors.items()}


def _activation_of(layer: Layer) -> str | None:
    if layer.type == "PReLU":
        return "prelu"
    if layer.type == "ReLU":
        return "leakyrelu" if float(layer.params.get(0, 0.0)) else "relu"
    fused = int(layer.params.get(9, 0)) if layer.type == "Convolution" else 0
    return FUSED_ACTIVATIONS.get(fused)


def _srvgg_names(layers: list[Layer], where: Path) -> tuple[dict[str, torch.Tensor], str]:
    """Number convolutions and activations ``body.0, body.1, ...`` in file order."""
    state: dict[str, torch.Tensor] = {}
    activations = set()
    index = 0
    for layer in layers:
        if layer.type not in ("Convolution", "PReLU", "ReLU"):
            continue
        state.update({f"body.{index}.{kind}": tensor for kind, tensor in layer.tensors.items()})
        index += 1
        if activation := _activation_of(layer):
            activations.add(activation)
            if layer.type == "Convolution":  # an activation folded into the convolution
                index += 1
    if len(activations) > 1:
        raise UnsupportedModelError(f"{where}: mixes activations {sorted(activations)}; "
                                    "SRVGGNetCompact uses one kind throughout")
    return state, (activations.pop() if activations else "prelu")


def _output_resize(layers: list[Layer]) -> float | None:
    """A final downscaling Interp (realesr-animevideov3's x2/x3 exports) as a factor."""
    last_conv = max(i for i, layer in enumerate(layers) if layer.type == "Convolution")
    for layer in layers[last_conv + 1:]:
        if layer.type == "Interp" and float(layer.params.get(1, 1.0)) < 1.0:
            return float(layer.params[1])
    return None


def load_ncnn(param_path: Path, bin_path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Canonical state dict and metadata of an ncnn RRDBNet or SRVGGNetCompact export."""
    if not bin_path.is_file():
        raise UnsupportedModelError(f"{param_path}: the ncnn weights {bin_path.name} are missing "
                                    "(an ncnn model is a .param and a .bin file side by side)")
    layers = parse_param(param_path)
    read_weights(layers, bin_path)
    types = {layer.type for layer in layers}
    if "Convolution" not in types:
        raise UnsupportedModelError(f"{param_path}: ncnn graph has no convolutions")
    metadata = {"format": "ncnn", "ncnn_param": param_path.name}
    if "PixelShuffle" in types and "Concat" not in types:
        state, act_type = _srvgg_names(layers, param_path)
        metadata["act_type"] = act_type
    elif "Concat" in types:
        state = _rrdbnet_names(layers, param_path)
    else:
        raise UnsupportedModelError(
            f"{param_path}: ncnn graph with layers {sorted(types)} is neither RRDBNet "
            "(concatenations) nor SRVGGNetCompact (a pixel shuffle)")
    if (factor := _output_resize(layers)) is not None:
        metadata["ncnn_output_resize"] = repr(factor)
    return state, metadata

