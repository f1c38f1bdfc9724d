"""What every segment encoder shares: the pixel format, padding, colour tags and quality of the
upscaled frames (timestamps are restored exactly by ``ffmpeg.commands.encode_command``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import UpscaleError
from .ffmpeg.binary import encoder_pix_fmts
from .probe import VideoInfo, pix_fmt_depth

DEFAULT_CRF = {"libx264": 18, "libx264rgb": 18, "libx265": 20, "libvpx-vp9": 30,
               "libaom-av1": 30, "libsvtav1": 30}


@dataclass(frozen=True)
class EncoderSettings:
    """What the user chose: ``--codec``, ``--crf``, ``--preset``, ``--pix-fmt``."""

    codec: str = "libx264"
    crf: int | None = None
    preset: str | None = None
    pix_fmt: str | None = None

    def __post_init__(self) -> None:
        high = 51 if self.codec in ("libx264", "libx264rgb", "libx265") else 63  # VP9, AV1: 63
        if self.crf is not None and not 0 <= self.crf <= high:
            raise UpscaleError(f"--crf for {self.codec} goes from 0 (best) to {high}, "
                               f"not {self.crf}")


RGB_PIX_FMTS = ("gbr", "rgb", "bgr", "argb", "abgr", "0rgb", "0bgr")


def is_rgb(pix_fmt: str) -> bool:
    """Whether frames of ``pix_fmt`` are stored as RGB (no YUV matrix, no rounding to it)."""
    return pix_fmt.startswith(RGB_PIX_FMTS)


def choose_pix_fmt(settings: EncoderSettings, info: VideoInfo) -> str:
    """``--pix-fmt``, else the source's if the encoder takes it, else 4:2:0 at the source depth."""
    if settings.pix_fmt:
        return settings.pix_fmt
    supported = encoder_pix_fmts(settings.codec)
    if not supported or info.pix_fmt in supported:
        return info.pix_fmt if supported else "yuv420p"
    deep = ["yuv420p10le", "yuv420p12le", "p010le"] if info.bit_depth > 8 else []
    return next((fmt for fmt in [*deep, "yuv420p"] if fmt in supported), supported[0])


# How many pixels share one chroma sample, across and down, by pixel format name.
_CHROMA_STEPS = {r"420|nv12|nv21|p01\d|p016": (2, 2), r"422|nv16|nv20|y21\d|yuyv|uyvy|yvyu": (2, 1),
                 "411": (4, 1), "410": (4, 4)}


def padded_size(width: int, height: int, pix_fmt: str) -> tuple[int, int]:
    """The size the encoder can take: rounded up to whole chroma samples (yuv420p: even)."""
    step_x, step_y = next((steps for pattern, steps in _CHROMA_STEPS.items()
                           if re.search(pattern, pix_fmt.lower())), (1, 1))
    return -(-width // step_x) * step_x, -(-height // step_y) * step_y


def pad_frames(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """Grow (N,H,W,C) frames to ``width`` x ``height`` by repeating the last row/column."""
    _, h, w, _ = frames.shape
    if (w, h) == (width, height):
        return frames
    return np.pad(frames, ((0, 0), (0, height - h), (0, width - w), (0, 0)), mode="edge")


@dataclass(frozen=True)
class EncodePlan:
    """Everything every segment encoder shares."""

    width: int  # after padding
    height: int
    raw_pix_fmt: str  # rgb24 or rgb48le, what we write into the pipe
    pix_fmt: str
    settings: EncoderSettings
    rate: Fraction
    time_base: Fraction
    colour: dict[str, str | None]
    crf: int | None  # --crf, else the codec's visually lossless default (None: the encoder's)

    @classmethod
    def for_source(cls, info: VideoInfo, settings: EncoderSettings, width: int,
                   height: int) -> EncodePlan:
        pix_fmt = choose_pix_fmt(settings, info)
        padded_w, padded_h = padded_size(width, height, pix_fmt)
        deep = info.bit_depth > 8 and pix_fmt_depth(pix_fmt) > 8
        colour = {"color_range": info.color_range, "colorspace": info.color_space,
                  "color_primaries": info.color_primaries, "color_trc": info.color_transfer}
        if is_rgb(pix_fmt):
            # stored as RGB (a lossless master): our frames go in untouched, full range
            colour.update(color_range="pc", colorspace="gbr")
        elif info.color_space == "gbr":
            # an RGB source encoded as YUV: tag the matrix used (encoders refuse "gbr")
            colour["colorspace"] = "bt709"
        crf = DEFAULT_CRF.get(settings.codec) if settings.crf is None else settings.crf
        return cls(padded_w, padded_h, "rgb48le" if deep else "rgb24", pix_fmt, settings,
                   info.frame_rate, info.time_base, colour, crf)
