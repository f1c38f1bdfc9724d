"""Image, video or neither: the one rule that sends a file the image or the video way.

Content decides where it speaks: a still-image signature means an image, a
moving picture that ffmpeg finds means a video, and media that ffmpeg reads
with no moving picture (sound) is neither, whatever the name says. Where the
content is silent (a file ffmpeg cannot read), the name decides, so that a
broken ``photo.png`` is reported by the image reader and a broken ``clip.mp4``
by the video reader, each in its own words.

Folders hold thousands of files, so ffmpeg is started only for binary files
without a still-image signature: images, text (XMP sidecars, notes, subtitles,
playlists) and empty files are told apart from the first bytes alone.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path
from typing import Literal

from ..errors import UpscaleError
from ..imaging import INPUT_SUFFIXES
from .ffmpeg.commands import header_command
from .ffmpeg.process import run_ffmpeg
from .probe import is_image_format, parse_header

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv",
                  ".flv", ".ts", ".m2ts", ".mts", ".3gp", ".ogv", ".vob")
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*", b"GIF8",
                b"\x00\x00\x00\x0cjP  ", b"\xff\x0a", b"v/1\x01", b"DDS ")
# ISO media files that hold still images (HEIF, AVIF, Canon CR3), by their ftyp brand.
_STILL_BRANDS = (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"crx ")
_HEAD_BYTES = 512

MediaKind = Literal["image", "video", "no video"]


def media_kind(path: str | os.PathLike) -> MediaKind | None:
    """'image' or 'video'; 'no video' for media without a moving picture (sound only);
    None for anything else. A batch skips the last two; a single file that is neither
    image nor video is left to the image reader, which says what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        return None
    suffix = path.suffix.lower()
    head = _head(path)
    if _is_still_image(head):
        # A still image under another name, or in a format a folder run does not take
        # (camera raw): only the image reader, given it alone, tries it.
        return "image" if suffix in INPUT_SUFFIXES else None
    presence = _video_presence(path) if _may_be_media(head) else None
    if presence is not None:
        return "video" if presence else "no video"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return "image" if suffix in INPUT_SUFFIXES else None


def _video_presence(path: Path) -> bool | None:
    """True for a video; False for a media file with no video stream (audio only);
    None for anything else (an image, or a file ffmpeg cannot read)."""
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


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(_HEAD_BYTES)


def _is_still_image(head: bytes) -> bool:
    return (head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
            or (head[4:8] == b"ftyp" and head[8:12] in _STILL_BRANDS))


def _may_be_media(head: bytes) -> bool:
    """False for an empty file and for text, which no video is."""
    if not head:
        return False
    try:  # incremental: a character cut at the end of the head is not an error
        text = codecs.getincrementaldecoder("utf-8")().decode(head)
    except UnicodeDecodeError:
        return True
    return not all(char.isprintable() or char in "\t\n\r\f\ufeff" for char in text)
