"""What a video file holds, found with ffmpeg alone (the bundled one has no ffprobe).

``ffmpeg -i`` describes the streams; a stream-copy pass lists every packet's timestamp: the
frame count, the exact rate, variable rate, and a file cut short (which decoding never says).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..errors import InputError
from .ffmpeg.binary import last_error, run_ffmpeg
from .ffmpeg.commands import header_command, packets_command

# Colour enum names by value: ffmpeg prints one name where all three share a value.
_SPACES = {"gbr": 0, "bt709": 1, "unknown": 2, "fcc": 4, "bt470bg": 5, "smpte170m": 6,
           "smpte240m": 7, "ycgco": 8, "bt2020nc": 9, "bt2020c": 10, "smpte2085": 11,
           "chroma-derived-nc": 12, "chroma-derived-c": 13, "ictcp": 14}
_PRIMARIES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film",
              9: "bt2020", 10: "smpte428", 11: "smpte431", 12: "smpte432", 22: "jedec-p22"}
_TRANSFERS = {1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m",
              8: "linear", 9: "log100", 10: "log316", 11: "iec61966-2-4", 12: "bt1361e",
              13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084",
              17: "smpte428", 18: "arib-std-b67"}
_NOT_COLOUR = {"progressive", "tff", "bff", "top first", "bottom first", "left", "center",
               "topleft", "top", "bottomleft", "bottom", "unknown"}
_IMAGE_FORMATS = re.compile(r"(_pipe|image2|^gif$|^apng$)")

_STREAM = re.compile(r"^\s*Stream #\d+:(\d+)(?:\[0x[0-9a-f]+\])?(?:\(([^)]*)\))?: "
                     r"(Video|Audio|Subtitle|Data|Attachment): (\w+)(.*)$")
_VIDEO = re.compile(r", (\w+)(?:\(([^)]*)\))?, (\d+)x(\d+)")
_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_START = re.compile(r"start: (-?\d+(?:\.\d+)?)")
_ROTATION = re.compile(r"rotation of (-?\d+(?:\.\d+)?) degrees", re.IGNORECASE)
_FPS = re.compile(r"([\d.]+)(k?) (?:fps|tbr)")


@dataclass
class Stream:
    """One stream as ``ffmpeg -i`` describes it."""

    index: int
    kind: str  # "video", "audio", "subtitle", "data", "attachment"
    codec: str
    language: str = ""
    details: str = ""
    attached_pic: bool = False


@dataclass
class VideoInfo:
    """The video stream we upscale, its timing, and everything muxed beside it."""

    path: Path
    streams: list[Stream]
    video_index: int
    pix_fmt: str
    width: int
    height: int
    frame_count: int
    frame_rate: Fraction
    time_base: Fraction
    timestamps: list[int]  # presentation order, in time_base units, relative to the first
    first_pts: Fraction  # seconds from the container start to the first video frame
    duration: float | None
    variable_rate: bool
    rotation: float = 0.0
    color_range: str | None = None  # "tv" or "pc"
    color_space: str | None = None
    color_primaries: str | None = None
    color_transfer: str | None = None
    chapters: int = 0
    missing_seconds: float = 0.0  # of the declared duration, with no packets: a truncated file

    @property
    def bit_depth(self) -> int:
        return pix_fmt_depth(self.pix_fmt)


def pix_fmt_depth(pix_fmt: str) -> int:
    """Bits per channel of an ffmpeg pixel format name (yuv420p10le -> 10, rgb48le -> 16)."""
    if match := re.search(r"(9|10|12|14|16)(le|be)$", pix_fmt):
        return int(match.group(1))
    if re.match(r"(rgb|bgr)48|(rgba|bgra)64|.*f(16|32)(le|be)$", pix_fmt):
        return 16
    return {"xv30": 10, "v30x": 10, "xv36": 12}.get(pix_fmt[:4], 8)


def probe(path: str | Path) -> VideoInfo:
    """Describe a video file; :class:`InputError` naming the file if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    text = run_ffmpeg(header_command(path)).stderr
    header = parse_header(text)
    video = header["video"]
    if video is None:
        problem = last_error(text, 1) if "Input #0" not in text else "no video stream"
        raise InputError(f"{path}: not a readable video ({problem})")
    time_base, pts, packets_end = packet_timestamps(path, video.index)
    if not pts:
        raise InputError(f"{path}: the video stream has no frames")
    relative = [p - pts[0] for p in pts]
    rate, variable = frame_timing(relative, time_base, header["fps"])
    size = _VIDEO.search(video.details)
    if not size:
        raise InputError(f"cannot read the picture size of video stream {video.index}")
    pix_fmt, extra, width, height = size.groups()
    start = header["start"] or 0.0
    missing = 0.0  # where the last packet of any stream ends, against the declared end
    if header["duration"] is not None and packets_end is not None:
        missing = header["duration"] + start - packets_end
    return VideoInfo(
        path=path, streams=header["streams"], video_index=video.index, pix_fmt=pix_fmt,
        width=int(width), height=int(height), frame_count=len(pts), frame_rate=rate,
        time_base=time_base, timestamps=relative,
        first_pts=max(Fraction(0), pts[0] * time_base - Fraction(start)),
        missing_seconds=missing if missing > max(0.25, 3 / float(rate)) else 0.0,
        duration=header["duration"], variable_rate=variable, rotation=header["rotation"],
        chapters=header["chapters"], **parse_colour(extra or ""))


def parse_header(text: str) -> dict:
    """The container, streams, duration, start, chapters and rotation from ``ffmpeg -i``."""
    result: dict = {"format": "", "streams": [], "video": None, "duration": None, "start": None,
                    "chapters": 0, "rotation": 0.0, "fps": None}
    current: Stream | None = None
    in_chapter = False
    for line in text.splitlines():
        if line.startswith("Input #0"):
            result["format"] = line.split(", from ")[0].split(", ", 1)[-1]
        elif (m := _DURATION.search(line)) and line.strip().startswith("Duration"):
            h, mnt, s = m.groups()
            result["duration"] = int(h) * 3600 + int(mnt) * 60 + float(s)
            if start := _START.search(line):
                result["start"] = float(start.group(1))
        elif line.strip().startswith("Chapter #"):
            result["chapters"] += 1
            in_chapter = True
        elif m := _STREAM.match(line):
            in_chapter = False
            index, lang, kind, codec, details = m.groups()
            current = Stream(int(index), kind.lower(), codec, lang or "", details,
                             attached_pic="(attached pic)" in details)
            result["streams"].append(current)
            if kind == "Video" and not current.attached_pic and result["video"] is None:
                result["video"] = current
                if fps := _FPS.search(details):
                    result["fps"] = float(fps.group(1)) * (1000 if fps.group(2) else 1)
        elif current is not None and current is result["video"] and not in_chapter and (
                m := _ROTATION.search(line)):
            result["rotation"] = float(m.group(1))
    if is_image_format(result["format"]):
        result["video"] = None
    return result


def is_image_format(format_name: str) -> bool:
    """Whether ffmpeg's demuxer name means a still image, which the image path handles."""
    return bool(_IMAGE_FORMATS.search(format_name))


def parse_colour(extra: str) -> dict[str, str | None]:
    """``tv, bt709/unknown/unknown, progressive`` -> range, matrix, primaries, transfer."""
    colour: dict[str, str | None] = {"color_range": None, "color_space": None,
                                     "color_primaries": None, "color_transfer": None}
    for token in (t.strip() for t in extra.split(",")):
        if token in ("tv", "pc"):
            colour["color_range"] = token
        elif token.count("/") == 2:
            space, prim, trc = token.split("/")
            colour.update(color_space=space, color_primaries=prim, color_transfer=trc)
        elif token in _SPACES and token not in _NOT_COLOUR:
            value = _SPACES[token]
            colour.update(color_space=token, color_primaries=_PRIMARIES.get(value),
                          color_transfer=_TRANSFERS.get(value))
    return {key: None if value in ("unknown", "reserved", "unspecified") else value
            for key, value in colour.items()}


def packet_timestamps(path: Path, video_index: int) -> tuple[Fraction, list[int], float | None]:
    """The video stream's time base and packet timestamps (no decoding), and the end in
    seconds of the last packet of any video, audio or subtitle stream."""
    proc = run_ffmpeg(packets_command(path, video_index))
    if proc.returncode != 0:
        raise InputError(f"{path}: cannot read the video packets ({last_error(proc.stderr)})")
    time_bases: dict[str, Fraction] = {}
    pts: list[int] = []
    end: Fraction | None = None
    for line in proc.stdout.splitlines():
        if line.startswith("#tb "):
            stream, value = line[4:].split(":", 1)
            time_bases[stream.strip()] = Fraction(value.strip())
        elif line and not line.startswith("#"):
            fields = [f.strip() for f in line.split(",")]
            stamp = int(fields[2]) if fields[2].lstrip("-").isdigit() else int(fields[1])
            if fields[0] == "0":
                pts.append(stamp)
            stop = (stamp + max(int(fields[3]), 0)) * time_bases.get(fields[0], Fraction(1))
            end = stop if end is None else max(end, stop)
    return time_bases.get("0", Fraction(1)), sorted(pts), None if end is None else float(end)


def frame_timing(relative: list[int], time_base: Fraction,
                 header_fps: float | None) -> tuple[Fraction, bool]:
    """Exact frame rate, and whether the timestamps stray more than one tick from a simple
    constant one (24, 24000/1001...): Matroska's millisecond rounding is no variable rate."""
    if len(relative) > 1 and relative[-1] > 0:
        measured = Fraction(len(relative) - 1) / (relative[-1] * time_base)
    else:
        measured = Fraction(header_fps or 25).limit_denominator(1001)
    candidates = [Fraction(round(measured)), Fraction(round(measured * Fraction(1001, 1000)) * 1000,
                                                      1001), measured.limit_denominator(1001)]
    for rate in (rate for rate in candidates if rate > 0):
        step = 1 / (rate * time_base)
        if all(abs(r - k * step) <= 1 for k, r in enumerate(relative)):
            return rate, False
    return measured.limit_denominator(1_000_000), True
