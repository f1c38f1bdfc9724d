"""The final file: the upscaled video plus everything else from the source, by stream copy;
what the container cannot hold is converted or dropped, and every such change reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .ffmpeg.binary import Process
from .ffmpeg.commands import mux_command
from .probe import Stream, VideoInfo

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska",
              ".webm": "webm", ".avi": "avi", ".ts": "mpegts", ".m2ts": "mpegts",
              ".mts": "mpegts", ".nut": "nut", ".flv": "flv"}
TEXT_SUBTITLES = {"subrip", "srt", "ass", "ssa", "webvtt", "mov_text", "text", "microdvd",
                  "subviewer", "realtext", "sami", "jacosub", "mpl2", "pjs", "stl", "vplayer"}
_MP4_AUDIO = {"aac", "mp3", "mp2", "ac3", "eac3", "alac", "opus", "flac", "dts", "truehd"}
WEBM_VIDEO = {"libvpx", "libvpx-vp9", "libaom-av1", "libsvtav1", "librav1e", "av1_nvenc",
               "vp9_vaapi", "vp9_qsv", "av1_qsv", "av1_vaapi", "av1_amf"}


@dataclass
class MuxPlan:
    """Which source streams go in, which are converted, and what the user is told."""

    copied: list[Stream] = field(default_factory=list)
    converted: dict[int, str] = field(default_factory=dict)  # source index -> encoder
    notices: list[str] = field(default_factory=list)
    # the video's colour tags, set again on it: a codec like ffv1 keeps none in its stream
    colour: dict[str, str | None] = field(default_factory=dict)


def container_for(output: Path) -> str | None:
    return CONTAINERS.get(output.suffix.lower())


def plan_streams(info: VideoInfo, container: str | None, colour: dict[str, str | None]) -> MuxPlan:
    plan = MuxPlan(colour=dict(colour))
    for stream in (s for s in info.streams if s.index != info.video_index):  # cover art too
        decision = _decide(stream, container)
        label = f"stream {stream.index} ({stream.kind} {stream.codec})"
        if decision == "copy":
            plan.copied.append(stream)
        elif decision is None:
            plan.notices.append(f"dropped {label}: a {container} file cannot hold it")
        else:
            plan.copied.append(stream)
            plan.converted[stream.index] = decision
            plan.notices.append(f"converted {label} to {decision} for {container}")
    return plan


def _decide(stream: Stream, container: str | None) -> str | None:
    """'copy', an encoder to convert with, or None to drop."""
    kind, codec = stream.kind, stream.codec
    if kind == "video":
        return "copy" if stream.attached_pic and container in ("mp4", "mov", "matroska") else None
    if container in ("mp4", "mov", "webm"):
        text_format = "webvtt" if container == "webm" else "mov_text"  # its only subtitles
        if kind == "audio" and container == "webm":
            return "copy" if codec in ("opus", "vorbis") else "libopus"
        if kind == "audio":
            fits = codec in _MP4_AUDIO or (container == "mov" and codec.startswith("pcm_"))
            return "copy" if fits else "aac"
        if kind == "subtitle" and codec == text_format:
            return "copy"
        return text_format if kind == "subtitle" and codec in TEXT_SUBTITLES else None
    if container == "matroska":
        if kind == "subtitle" and codec == "mov_text":
            return "srt"
        return "copy" if kind in ("audio", "subtitle", "attachment") else None
    return "copy" if kind in ("audio", "subtitle") else None


def mux(info: VideoInfo, concat_list: Path, target: Path, plan: MuxPlan) -> None:
    """Write ``target``: the concatenated segments, with the streams ``plan`` keeps."""
    command = mux_command(info, concat_list, target, plan, container_for(target))
    Process(command, f"writing {target.name}").wait_ok()
