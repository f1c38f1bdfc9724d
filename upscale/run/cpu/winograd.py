"""3x3 convolutions by the Winograd F(6x6, 3x3) method: 5x fewer multiplies, fp32 on the CPU.

Feature maps are *padded maps*: NHWC ``[N, 6*Ht + 2, 6*Wt + 2, C]``, the image at (1, 1) and
zeros around it, padding both the convolution and the last tiles, so no kernel checks borders.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn
from torch.nn import functional as F

from ...notes import note

TILE = 6  # output pixels per tile side
POSITIONS = 64  # (TILE + 2) ** 2 values per transformed tile
BAND_TILES = 2048  # tiles per band in a banded convolution: transformed band ~34 MB at 64 ch
NO_ACTIVATION = 1.0  # a slope of one: the identity

# G of F(6,3) (points 0, ±1, ±2, ±1/2): the kernel transform U = G g Gᵀ.
_G = ((1.0, 0.0, 0.0),
      (-2 / 9, -2 / 9, -2 / 9),
      (-2 / 9, 2 / 9, -2 / 9),
      (1 / 90, 1 / 45, 2 / 45),
      (1 / 90, -1 / 45, 2 / 45),
      (32 / 45, 16 / 45, 8 / 45),
      (32 / 45, -16 / 45, 8 / 45),
      (0.0, 0.0, 1.0))


@functools.cache
def kernels():  # noqa: ANN201 - the module, or None
    """The compiled kernels, or None (with a note), tried here so as not to fail mid-image."""
    try:
        from . import winograd_kernels as k

        image = torch.zeros(1, TILE + 2, TILE + 2, 1).numpy()
        transformed = torch.zeros(POSITIONS, 1, 1).numpy()
        ones = torch.ones(1).numpy()
        k.input_transform(image, transformed, 0, 0, 1)
        k.output_transform(transformed, ones, ones, image, 1, 1, 0, 1, False)
    except Exception as error:  # noqa: BLE001 - numba missing or failing: another engine runs
        note(f"the Winograd kernels cannot run here ({error}); using another CPU engine")
        return None
    return k


def available(device: torch.device, dtype: torch.dtype) -> bool:
    return device.type == "cpu" and dtype == torch.float32 and kernels() is not None


def match_threads() -> None:
    """Give numba's pool as many threads as PyTorch's (numba defaults to every CPU it sees)."""
    import numba

    wanted = min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
    if numba.get_num_threads() != wanted:
        numba.set_num_threads(wanted)


def transform_weight(weight: torch.Tensor, factor: float = 1.0) -> torch.Tensor:
    """``[C_out, C_in, 3, 3]`` -> ``[64, C_in, C_out]`` fp32: G g Gᵀ per kernel, times factor,
    in float64 and as one product with G ⊗ G (an einsum took half a second per x4plus start)."""
    out_channels, in_channels = weight.shape[:2]
    g = torch.tensor(_G, dtype=torch.float64)
    taps = weight.detach().to("cpu", torch.float64).permute(2, 3, 1, 0).reshape(9, -1)
    u = (torch.kron(g, g) * factor) @ taps  # [64, C_in * C_out]
    return u.reshape(POSITIONS, in_channels, out_channels).to(torch.float32).contiguous()


def tiles(size: int) -> int:
    """How many TILE-pixel tiles cover ``size`` pixels."""
    return -(-size // TILE)


def new_padded(n: int, height: int, width: int, channels: int) -> torch.Tensor:
    return torch.zeros(n, TILE * tiles(height) + 2, TILE * tiles(width) + 2, channels)


def interior(padded: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The image part of a padded map, as an NHWC view."""
    return padded[:, 1:height + 1, 1:width + 1]


def to_padded(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Copy an NCHW tensor into a (new, or given zeroed) padded map."""
    n, c, h, w = x.shape
    if out is None:
        out = new_padded(n, h, w, c)
    interior(out, h, w).copy_(x.permute(0, 2, 3, 1))
    return out


def as_nchw(padded: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The image part of a padded map as an NCHW view (memory stays NHWC)."""
    return interior(padded, height, width).permute(0, 3, 1, 2)


def upsample_nearest2x(padded: torch.Tensor, height: int, width: int,
                       out: torch.Tensor) -> None:
    """The image doubled in size by nearest-neighbour, into the padded map ``out``."""
    n, _, _, c = padded.shape
    source = interior(padded, height, width)[:, :, None, :, None]
    interior(out, 2 * height, 2 * width).view(n, height, 2, width, 2, c).copy_(
        source.expand(n, height, 2, width, 2, c))


def direct_conv(padded: torch.Tensor, height: int, width: int, weight: torch.Tensor,
                bias: torch.Tensor) -> torch.Tensor:
    """A plain 3x3 convolution of a padded map (channels_last to oneDNN, no copy), as NCHW:
    faster than Winograd for few outputs (RRDBNet's 64 -> 3: 79 against 239 ms at 1024²)."""
    out = F.conv2d(padded.permute(0, 3, 1, 2), weight, bias)
    return out[:, :, :height, :width]


def activation_slopes(channels: int, slope: float | torch.Tensor) -> torch.Tensor:
    """Per-channel negative slopes: 1 is no activation, 0 ReLU, 0.2 LeakyReLU, a tensor PReLU."""
    if isinstance(slope, torch.Tensor):
        return slope.detach().to("cpu", torch.float32).reshape(-1).expand(channels).contiguous()
    return torch.full((channels,), float(slope))


class Workspace:
    """Buffers reused across calls: fresh ones page-fault, costing more than the transforms."""

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}

    def get(self, name: str, *shape: int) -> torch.Tensor:
        """A contiguous fp32 tensor of ``shape`` whose storage is reused per ``name``."""
        needed = math.prod(shape)
        buffer = self._buffers.get(name)
        if (buffer is None or buffer.numel() < needed
                or buffer.is_inference() != torch.is_inference_mode_enabled()):
            buffer = self._buffers[name] = torch.empty(needed)
        return buffer[:needed].view(*shape)

    def padded(self, name: str, n: int, height: int, width: int, channels: int) -> torch.Tensor:
        """A padded map kept per image size, whose border therefore stays zero."""
        key = f"{name}:{n}x{height}x{width}x{channels}"
        buffer = self._buffers.get(key)
        if buffer is None or buffer.is_inference() != torch.is_inference_mode_enabled():
            for old in [k for k in self._buffers if k.startswith(f"{name}:")]:
                del self._buffers[old]
            buffer = self._buffers[key] = new_padded(n, height, width, channels)
        return buffer


def conv(src: torch.Tensor, height: int, width: int, weight: torch.Tensor, bias: torch.Tensor,
         slopes: torch.Tensor, dst: torch.Tensor, workspace: Workspace, *,
         accumulate: bool = False) -> torch.Tensor:
    """``dst = act(conv3x3(src))`` (or ``dst += conv3x3(src)``) between padded maps, in bands
    of tile rows whose transformed tiles stay in cache for the multiply."""
    k = kernels()
    n = src.shape[0]
    rows = n * ((src.shape[1] - 2) // TILE)
    tiles_w = (src.shape[2] - 2) // TILE
    c_in, c_out = weight.shape[1], weight.shape[2]
    band = max(1, min(rows, BAND_TILES // tiles_w))
    src_np, dst_np = src.numpy(), dst.numpy()
    bias_np, slopes_np = bias.numpy(), slopes.numpy()
    for start in range(0, rows, band):
        stop = min(rows, start + band)
        count = (stop - start) * tiles_w
        transformed = workspace.get("conv_in", POSITIONS, count, c_in)
        products = workspace.get("conv_out", POSITIONS, count, c_out)
        k.input_transform(src_np, transformed.numpy(), 0, start, stop)
        torch.bmm(transformed, weight, out=products)
        k.output_transform(products.numpy(), bias_np, slopes_np, dst_np, height, width,
                           start, stop, accumulate)
    return dst


def register_weights(module: nn.Module, *tensors: torch.Tensor) -> None:
    """Register as (non-persistent) buffers, so ``module.buffers()`` tells device and dtype."""
    for tensor in tensors:
        module.register_buffer(f"tensor{len(module._buffers)}", tensor, persistent=False)


class WinogradConv:
    """One convolution's Winograd weights, bias and activation slopes, kept on ``owner``."""

    def __init__(self, owner: nn.Module, conv: nn.Conv2d, slope: float | torch.Tensor,
                 factor: float = 1.0) -> None:
        self.weight = transform_weight(conv.weight, factor)
        self.bias = (conv.bias.detach().to("cpu", torch.float32) * factor).contiguous()
        self.slopes = activation_slopes(conv.out_channels, slope)
        self.out_channels = conv.out_channels
        register_weights(owner, self.weight, self.bias, self.slopes)

    def __call__(self, src: torch.Tensor, height: int, width: int, workspace: Workspace,
                 dst: torch.Tensor, *, accumulate: bool = False) -> torch.Tensor:
        """``act(conv(src))`` into (or, accumulating, onto) the padded map ``dst``."""
        return conv(src, height, width, self.weight, self.bias, self.slopes, dst, workspace,
                    accumulate=accumulate)
