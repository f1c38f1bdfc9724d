"""Every ffmpeg command line that reads or writes media, as plain argument lists.

Filter options are escaped twice, as ffmpeg parses them twice: as a filter's option, then as
part of the graph (``max(N-1,0)`` carries a comma).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from .binary import ffmpeg_args, passthrough_option, supports_option

if TYPE_CHECKING:
    from ..encode import EncodePlan
    from ..mux import MuxPlan
    from ..probe import VideoInfo

# What each name in a source's colour tags means to the scale filter's matrix option.
SCALE_MATRIX = {"bt709": "bt709", "bt470bg": "bt470", "smpte170m": "smpte170m", "fcc": "fcc",
                "smpte240m": "smpte240m", "bt2020nc": "bt2020", "bt2020c": "bt2020"}

Options = Mapping[str, object]


def header_command(path: Path) -> list[str]:
    """Open ``path`` and stop: ffmpeg describes the container and its streams on stderr."""
    return ffmpeg_args(["-i", str(path)])


def packets_command(path: Path, video_index: int) -> list[str]:
    """Every packet of the video, audio and subtitle streams, by stream copy (no decoding)."""
    return ffmpeg_args(["-i", str(path), "-map", f"0:{video_index}", "-map", "0:a?",
                        "-map", "0:s?", "-c", "copy", "-f", "framecrc", "-"])


def decode_command(info: VideoInfo, raw_pix_fmt: str, seek: Fraction | None = None) -> list[str]:
    """Raw RGB frames on stdout, in the stored orientation, converted with the source's own
    matrix and range; ``seek`` (seconds) starts at the keyframe before and drops up to it."""
    seeking = ["-ss", f"{float(seek):.6f}"] if seek is not None else []
    scale = {"in_range": info.color_range or "tv"}
    if matrix := SCALE_MATRIX.get(info.color_space or ""):
        scale["in_color_matrix"] = matrix
    return ffmpeg_args([
        "-noautorotate", *seeking, "-i", str(info.path),
        *filter_chain(f"0:{info.video_index}", ("scale", scale), ("format", {"": raw_pix_fmt})),
        "-f", "rawvideo", *option_args(passthrough_option()), "pipe:"])


def encode_command(plan: EncodePlan, output_name: str, pts: list[int] | None) -> list[str]:
    """Raw RGB frames from stdin to one segment file, converted back and tagged as the source;
    ``pts``: each frame's timestamp in ``plan.time_base`` units (variable rate only)."""
    filters: list[tuple[str, Options]] = []
    if pts is not None:
        filters += [("settb", {"": plan.time_base}), ("setpts", {"": pts_expression(pts)})]
    scale: dict[str, object] = {"out_range": plan.colour["color_range"] or "tv"}
    if matrix := SCALE_MATRIX.get(plan.colour["colorspace"] or ""):
        scale["out_color_matrix"] = matrix
    filters += [("scale", scale), ("format", {"": plan.pix_fmt})]
    tags = {name: value for name, value in plan.colour.items() if value}
    if tags:  # on the frames too: newer ffmpeg takes the encoder's tags from them
        filters.append(("setparams", {"range" if name == "color_range" else name: value
                                      for name, value in tags.items()}))
    options: dict[str, object] = {
        **encoder_colour(tags), **passthrough_option(), "vcodec": plan.settings.codec,
        "enc_time_base": plan.time_base if pts is not None else 1 / plan.rate}
    if plan.crf is not None:
        options["crf"] = plan.crf
        if plan.settings.codec.startswith("libvpx"):
            options["b:v"] = 0  # constant quality, not a bitrate cap
    if plan.settings.preset:
        options["preset"] = plan.settings.preset
    return ffmpeg_args([
        "-y", "-f", "rawvideo", "-framerate", str(plan.rate), "-pix_fmt", plan.raw_pix_fmt,
        "-s", f"{plan.width}x{plan.height}", "-i", "pipe:", *filter_chain("0:v", *filters),
        "-f", "nut", *option_args(options), output_name])


def mux_command(info: VideoInfo, concat_list: Path, target: Path, plan: MuxPlan,
                container: str | None) -> list[str]:
    """The finished file: the segment list (concat demuxer), placed where the source video
    started, and the source's other streams, metadata and chapters."""
    video_input = ["-f", "concat", "-safe", "0"]
    if info.first_pts:
        video_input += ["-itsoffset", f"{float(info.first_pts):.6f}"]
    display_rotation = bool(info.rotation) and supports_option("display_rotation")
    if display_rotation:
        video_input += ["-display_rotation", f"{info.rotation:g}"]
    args = [*video_input, "-i", str(concat_list), "-i", str(info.path), "-map", "0:v:0"]
    for stream in plan.copied:
        args += ["-map", f"1:{stream.index}"]
    args += ["-c", "copy", "-map_metadata", "1", "-map_chapters", "1"]
    for name, value in sorted(encoder_colour(plan.colour).items()):  # on output stream 0
        args += [f"-{name}:0", str(value)]
    for position, stream in enumerate(plan.copied, start=1):
        if stream.index in plan.converted:
            args += [f"-c:{position}", plan.converted[stream.index]]
    source_video = next(s for s in info.streams if s.index == info.video_index)
    if source_video.language and source_video.language != "und":
        args += ["-metadata:s:0", f"language={source_video.language}"]
    if info.rotation and not display_rotation:
        args += ["-metadata:s:0", f"rotate={info.rotation:g}"]
    if container in ("mp4", "mov"):
        args += ["-movflags", "+faststart"]
    return ffmpeg_args(["-y", *args, str(target)])


def encoder_colour(tags: Mapping[str, str | None]) -> dict[str, str]:
    """Colour tags as the -color_range, -colorspace, ... options spell them (set ones only):
    -colorspace spells RGB "rgb", where ffmpeg reports (and setparams takes) "gbr"."""
    return {name: "rgb" if (name, value) == ("colorspace", "gbr") else value
            for name, value in tags.items() if value}


def pts_expression(pts: list[int]) -> str:
    """A ``setpts`` expression of the frame number N that yields ``pts[N]`` exactly: one
    term per change of gap, exact in doubles; past the list frames keep the last gap.
    (``sendcmd`` would need ffmpeg 6; 5.1 ignores it without a word.)"""
    terms = [str(pts[0])] if pts else ["0"]
    previous_gap = 0
    for index in range(1, len(pts)):
        gap = pts[index] - pts[index - 1]
        if change := gap - previous_gap:
            terms.append(f"{change:+d}*max(N-{index - 1},0)")
        previous_gap = gap
    return "".join(terms)


def filter_chain(source: str, *filters: tuple[str, Options]) -> list[str]:
    """``-filter_complex`` for one chain of filters from stream ``source``, and its ``-map``;
    options go in name order, the one named ``""`` as the positional argument."""
    links, label = [], f"[{source}]"
    for number, (name, options) in enumerate(filters):
        values = [_escape(value, _OPTION) if key == "" else
                  f"{_escape(key, _OPTION)}={_escape(value, _OPTION)}"
                  for key, value in sorted(options.items())]
        spec = name + ("=" + ":".join(values) if values else "")
        links.append(f"{label}{_escape(spec, _GRAPH)}[s{number}]")
        label = f"[s{number}]"
    return ["-filter_complex", ";".join(links), "-map", label]


def option_args(options: Options) -> list[str]:
    """``{"crf": 18}`` -> ``["-crf", "18"]``, in name order."""
    return [arg for name in sorted(options) for arg in (f"-{name}", str(options[name]))]


_OPTION = re.compile(r"([\\'=:])")
_GRAPH = re.compile(r"([\\'\[\],;])")


def _escape(value: object, special: re.Pattern[str]) -> str:
    return special.sub(r"\\\1", str(value))
