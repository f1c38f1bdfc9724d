"""Turning upscaled RGB frames back into a compressed video stream.

Each segment of frames goes to its own ffmpeg encoder through a pipe. Frames
arrive as raw RGB in order; their timestamps are restored inside the encoder:
a constant-rate source is encoded at its exact rate, a variable-rate one gets
each frame's source timestamp back from a ``setpts`` expression of the frame
number (``pts_expression``), so no timestamp is ever rounded to a grid. Plain
expressions work on every ffmpeg we support; ``setpts`` commands (``sendcmd``)
would need ffmpeg 6, and 5.1 ignores them without a word.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import UpscaleError
from .ffmpeg_bin import passthrough_option, run_ffmpeg
from .probe import VideoInfo, pix_fmt_depth

DEFAULT_CRF = {"libx264": 18, "libx265": 20, "libvpx-vp9": 30, "libaom-av1": 30, "libsvtav1": 30}
# What each name in a source's colour tags means to the scale filter's matrix option.
SCALE_MATRIX = {"bt709": "bt709", "bt470bg": "bt470", "smpte170m": "smpte170m", "fcc": "fcc",
                 "smpte240m": "smpte240m", "bt2020nc": "bt2020", "bt2020c": "bt2020"}


@dataclass(frozen=True)
class EncoderSettings:
    """What the user chose: ``--codec``, ``--crf``, ``--preset``, ``--pix-fmt``."""

    codec: str = "libx264"
    crf: int | None = None
    preset: str | None = None
    pix_fmt: str | None = None


@functools.lru_cache(maxsize=32)
def encoder_pix_fmts(codec: str) -> tuple[str, ...]:
    """Pixel formats an encoder accepts; :class:`UpscaleError` if ffmpeg lacks it."""
    text = run_ffmpeg(["-h", f"encoder={codec}"], check=False).stdout
    if "is not recognized" in text or f"Encoder {codec}" not in text:
        raise UpscaleError(f"--codec {codec}: this ffmpeg has no such encoder")
    match = re.search(r"Supported pixel formats: (.*)", text)
    return tuple(match.group(1).split()) if match else ()


def choose_pix_fmt(settings: EncoderSettings, info: VideoInfo) -> str:
    """``--pix-fmt``, else the source's if the encoder takes it, else 4:2:0 at the source depth."""
    if settings.pix_fmt:
        return settings.pix_fmt
    supported = encoder_pix_fmts(settings.codec)
    if not supported or info.pix_fmt in supported:
        return info.pix_fmt if supported else "yuv420p"
    if info.bit_depth > 8:
        for deep in ("yuv420p10le", "yuv420p12le", "p010le"):
            if deep in supported:
                return deep
    return "yuv420p" if "yuv420p" in supported else supported[0]


def chroma_steps(pix_fmt: str) -> tuple[int, int]:
    """How many pixels share one chroma sample, across and down (yuv420p -> (2, 2))."""
    name = pix_fmt.lower()
    if re.search(r"420|nv12|nv21|p01\d|p016", name):
        return 2, 2
    if re.search(r"422|nv16|nv20|y21\d|yuyv|uyvy|yvyu", name):
        return 2, 1
    if "411" in name:
        return 4, 1
    if "410" in name:
        return 4, 4
    return 1, 1


def padded_size(width: int, height: int, pix_fmt: str) -> tuple[int, int]:
    """The size the encoder can take: rounded up to whole chroma samples."""
    step_x, step_y = chroma_steps(pix_fmt)
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
    variable_rate: bool
    colour: dict[str, str | None]

    @classmethod
    def for_source(cls, info: VideoInfo, settings: EncoderSettings, width: int,
                   height: int) -> EncodePlan:
        pix_fmt = choose_pix_fmt(settings, info)
        padded_w, padded_h = padded_size(width, height, pix_fmt)
        deep = info.bit_depth > 8 and pix_fmt_depth(pix_fmt) > 8
        colour = {"color_range": info.color_range, "colorspace": info.color_space,
                  "color_primaries": info.color_primaries, "color_trc": info.color_transfer}
        return cls(padded_w, padded_h, "rgb48le" if deep else "rgb24", pix_fmt, settings,
                   info.frame_rate, info.time_base, info.variable_rate, colour)

    def command(self, segment_path: Path, pts: list[int] | None = None) -> list[str]:
        """The ffmpeg command line for one segment (run from the segment's folder).

        ``pts``: each frame's timestamp in ``time_base`` units from the segment
        start, for a variable-rate source (frames beyond the list keep the last gap).
        """
        import ffmpeg

        stream = ffmpeg.input("pipe:", format="rawvideo", pix_fmt=self.raw_pix_fmt,
                              s=f"{self.width}x{self.height}", framerate=str(self.rate)).video
        if pts is not None:
            stream = (stream.filter("settb", str(self.time_base))
                      .filter("setpts", pts_expression(pts)))
        matrix = SCALE_MATRIX.get(self.colour["colorspace"] or "")
        scale_args = {"out_range": self.colour["color_range"] or "tv"}
        if matrix:
            scale_args["out_color_matrix"] = matrix
        stream = stream.filter("scale", **scale_args).filter("format", self.pix_fmt)
        tags = {k: v for k, v in self.colour.items() if v}
        if tags:  # on the frames too: newer ffmpeg takes the encoder's tags from them
            stream = stream.filter("setparams", **{"range" if k == "color_range" else k: v
                                                   for k, v in tags.items()})
        options: dict[str, str | int] = {
            "vcodec": self.settings.codec, "format": "nut", **passthrough_option(),
            "enc_time_base": str(self.time_base if pts is not None else 1 / self.rate), **tags}
        crf = self.settings.crf if self.settings.crf is not None else DEFAULT_CRF.get(
            self.settings.codec)
        if crf is not None:
            options["crf"] = crf
            if self.settings.codec.startswith("libvpx"):
                options["b:v"] = 0  # constant quality, not a bitrate cap
        if self.settings.preset:
            options["preset"] = self.settings.preset
        return ffmpeg.output(stream, segment_path.name, **options).compile(cmd="ffmpeg")[1:]


def pts_expression(pts: list[int]) -> str:
    """A ``setpts`` expression of the frame number N that yields ``pts[N]`` exactly.

    With gaps ``d[i] = pts[i] - pts[i-1]`` and their changes ``c[i] = d[i] - d[i-1]``,
    ``pts[N] = pts[0] + sum(c[i] * max(N - i + 1, 0))``: one term per change of
    gap, so a long constant run costs nothing, and integers stay exact in the
    expression evaluator's doubles. Past the list, frames keep the last gap.
    """
    terms = [str(pts[0])] if pts else ["0"]
    previous_gap = 0
    for index in range(1, len(pts)):
        gap = pts[index] - pts[index - 1]
        if change := gap - previous_gap:
            terms.append(f"{change:+d}*max(N-{index - 1},0)")
        previous_gap = gap
    return "".join(terms)
