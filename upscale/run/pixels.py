"""Pixels between numpy and the network: uint8/uint16/float32 in, the same dtype out.

Conversion happens per tile on the device, so a big image never exists as a
full-size float32 copy, and results cross back to the host in the output's
own dtype (a quarter of the bytes for uint8).
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError

MAX_VALUES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0, np.dtype(np.float32): 1.0}
TORCH_TYPES = {np.dtype(np.uint8): torch.uint8, np.dtype(np.uint16): torch.uint16,
               np.dtype(np.float32): torch.float32}


def check_pixels(array: np.ndarray, channels: int, what: str = "image") -> None:
    """Refuse arrays the network cannot take, in one line that says why."""
    if np.dtype(array.dtype) not in MAX_VALUES:
        raise InputError(f"cannot upscale {what} pixels of type {array.dtype}; "
                         "use uint8, uint16 or float32")
    if array.ndim < 3 or array.shape[-1] != channels:
        raise InputError(f"the {what} has shape {array.shape} but the network takes "
                         f"{channels} channels (…×H×W×{channels})")
    if 0 in array.shape[-3:-1]:
        raise InputError(f"the {what} is empty ({array.shape[-3]}×{array.shape[-2]} pixels)")


def to_network(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """(N,)H×W×C pixels -> N×C×H×W float32 in [0, 1] on ``device``."""
    scale = MAX_VALUES[np.dtype(array.dtype)]
    if array.dtype == np.uint16:  # few torch ops take uint16; widen on the host, per tile
        array = array.astype(np.int32)
    tensor = torch.from_numpy(np.ascontiguousarray(array)).to(device, non_blocking=True)
    tensor = tensor.to(torch.float32)
    if scale != 1.0:
        tensor = tensor / scale
    if tensor.ndim == 3:
        tensor = tensor[None]
    return tensor.permute(0, 3, 1, 2)


def from_network(tensor: torch.Tensor, dtype: np.dtype) -> np.ndarray:
    """N×C×H×W output -> N×H×W×C numpy of ``dtype``, clamped to the valid range."""
    dtype = np.dtype(dtype)
    scale = MAX_VALUES[dtype]
    with torch.inference_mode():
        tensor = tensor.float().clamp(0.0, 1.0).permute(0, 2, 3, 1)
        if scale != 1.0:
            tensor = (tensor * scale).round_()
            tensor = tensor.to(torch.uint8 if dtype == np.uint8 else torch.int32)
        array = tensor.cpu().numpy()
    return array if array.dtype == dtype else array.astype(dtype)
