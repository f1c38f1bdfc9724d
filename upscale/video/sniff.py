"""Image, video or neither: the one rule that sends a file the image or the video way.

Content decides where it speaks: a still-image signature means an image, a
moving picture that ffmpeg finds means a video, and media that ffmpeg reads
with no moving picture (sound, subtitles) is neither, whatever the name says.
Where the content is silent (a file ffmpeg cannot read), the name decides, so
that a broken ``photo.png`` is reported by the image reader and a broken
``clip.mp4`` by the video reader, each in its own words. Images with their signature are
known without starting ffmpeg: folders hold thousands of them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from ..errors import UpscaleError
from ..imaging import IMAGE_SUFFIXES
from .ffmpeg.commands import header_command
from .ffmpeg.process import run_ffmpeg
from .probe import is_image_format, parse_header

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv",
                  ".flv", ".ts", ".m2ts", ".mts", ".3gp", ".ogv", ".vob")
# Still-image signatures: answered without starting ffmpeg (batches hold thousands).
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*", b"GIF8",
                b"\x00\x00\x00\x0cjP  ", b"\xff\x0a", b"v/1\x01", b"DDS ")

MediaKind = Literal["image", "video", "no video"]


def media_kind(path: str | os.PathLike) -> MediaKind | None:
    """'image' or 'video'; 'no video' for media with no moving picture (sound, subtitles);
    None for anything else (a batch skips both of the last two)."""
    path = Path(path)
    if not path.is_file():
        return None
    if _has_image_signature(path):
        return "image"
    presence = _video_presence(path)
    if presence is not None:
        return "video" if presence else "no video"
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return "image" if suffix in IMAGE_SUFFIXES else None


def is_video(path: str | os.PathLike) -> bool:
    """True when ffmpeg finds a moving-picture stream (not a still, not cover art) in it."""
    return _video_presence(path) is True


def _video_presence(path: str | os.PathLike) -> bool | None:
    """True for a video; False for a media file with no video stream (audio only);
    None for anything else (an image, or a file ffmpeg cannot read)."""
    path = Path(path)
    if not path.is_file() or _has_image_signature(path):
        return None
    try:
        text = run_ffmpeg(header_command(path), check=False).stderr
    except UpscaleError:
        return None
    header = parse_header(path, text)
    if header["video"] is not None:
        return True
    if "Input #0" not in text or is_image_format(header["format"]):
        return None
    return False


def _has_image_signature(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(16)
    return head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
