"""Convolution primitives for the fast CPU path, with a plain fallback.

oneDNN (mkldnn) can fuse an activation into a convolution, and can accumulate a
convolution *into an existing tensor* (its "sum" post-op). The second is what lets
the fast networks write residual connections in place instead of allocating a new
feature map per layer. Both are reached through ``torch.ops.mkldnn``, which PyTorch
builds for its own compiler; when they are missing (another build, another device)
every function here falls back to ``F.conv2d`` plus an eager op with the same result.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

_ONE = [1, 1]


def mkldnn_fusion_available() -> bool:
    """Whether this PyTorch exposes oneDNN's fused-convolution ops."""
    ops = getattr(torch.ops, "mkldnn", None)
    try:
        return (torch.backends.mkldnn.is_available()
                and hasattr(ops, "_convolution_pointwise")
                and hasattr(ops, "_convolution_pointwise_"))
    except (AttributeError, RuntimeError):
        return False


def _fused(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and x.dtype == torch.float32 and FUSED


FUSED = mkldnn_fusion_available()


def conv3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
            leaky_slope: float | None = None) -> torch.Tensor:
    """3x3 "same" convolution, optionally followed by LeakyReLU(leaky_slope), fused."""
    if _fused(x):
        if leaky_slope is None:
            return torch.ops.mkldnn._convolution_pointwise(
                x, weight, bias, _ONE, _ONE, _ONE, 1, "none", [], "")
        return torch.ops.mkldnn._convolution_pointwise(
            x, weight, bias, _ONE, _ONE, _ONE, 1, "leaky_relu", [leaky_slope], "")
    out = F.conv2d(x, weight, bias, padding=1)
    return out if leaky_slope is None else F.leaky_relu_(out, leaky_slope)


def conv3x3_relu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """3x3 "same" convolution followed by ReLU, fused."""
    if _fused(x):
        return torch.ops.mkldnn._convolution_pointwise(
            x, weight, bias, _ONE, _ONE, _ONE, 1, "relu", [], "")
    return F.relu_(F.conv2d(x, weight, bias, padding=1))


def conv3x3_accumulate_(acc: torch.Tensor, x: torch.Tensor, weight: torch.Tensor,
                        bias: torch.Tensor) -> torch.Tensor:
    """``acc += conv3x3(x)`` in place; acc must not overlap x. Returns acc."""
    if _fused(x) and acc.is_contiguous(memory_format=torch.channels_last):
        return torch.ops.mkldnn._convolution_pointwise_(
            acc, x, weight, bias, _ONE, _ONE, _ONE, 1, "add", 1.0, None, [], None)
    return acc.add_(F.conv2d(x, weight, bias, padding=1))


def channels_last(t: torch.Tensor) -> torch.Tensor:
    """The same values, stored NHWC: oneDNN's fastest layout for these convolutions."""
    return t.contiguous(memory_format=torch.channels_last)
