"""Pixels between numpy and the network: uint8/uint16/float32 in, the same dtype out,
converted per tile on the device and crossing to it and back in their own width."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError

MAX_VALUES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0, np.dtype(np.float32): 1.0}
UINT16_WRAP = 65536.0  # uint16 crosses as int16 (same bits): few torch backends take uint16


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
    """(N,)H×W×C pixels -> N×C×H×W float32 in [0, 1] on ``device``; synchronously, as from
    a temporary pageable array ``non_blocking`` gains nothing and may read freed memory."""
    scale = MAX_VALUES[np.dtype(array.dtype)]
    array = np.ascontiguousarray(array)
    wrapped = array.dtype == np.uint16
    if wrapped:
        array = array.view(np.int16)
    tensor = torch.from_numpy(array).to(device).to(torch.float32)
    if wrapped:  # int16 -> the uint16 value it was
        tensor = torch.where(tensor < 0, tensor + UINT16_WRAP, tensor)
    if scale != 1.0:
        tensor = tensor / scale
    if tensor.ndim == 3:
        tensor = tensor[None]
    return tensor.permute(0, 3, 1, 2)


def from_network(tensor: torch.Tensor, dtype: np.dtype) -> np.ndarray:
    """N×C×H×W output -> N×H×W×C numpy of ``dtype``, clamped, laid out channel-last on the
    device: a strided result would make every paste on the host 25× slower (8K frame)."""
    dtype = np.dtype(dtype)
    scale = MAX_VALUES[dtype]
    with torch.inference_mode():
        tensor = tensor.to(torch.float32, copy=True).clamp_(0.0, 1.0)
        narrow = torch.float32
        if dtype != np.float32:
            tensor = tensor.mul_(scale).round_()
            narrow = torch.uint8 if dtype == np.uint8 else torch.int16
        if dtype == np.uint16:
            # the int16 with the same bits, (v + 2¹⁵) mod 2¹⁶ - 2¹⁵, in place: exact for these
            # integers, no mask, no sync (a masked write held ~36 bytes per bright pixel)
            half_wrap = UINT16_WRAP / 2
            tensor = tensor.add_(half_wrap).remainder_(UINT16_WRAP).sub_(half_wrap)
        n, c, h, w = tensor.shape
        channel_last = torch.empty((n, h, w, c), dtype=narrow, device=tensor.device)
        channel_last.copy_(tensor.permute(0, 2, 3, 1))  # one pass: narrow and transpose
        array = channel_last.cpu().numpy()
    return array.view(np.uint16) if dtype == np.uint16 else array
