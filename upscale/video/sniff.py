"""Image, video or neither: the one rule that sends a file the image or the video way.

Content decides where it speaks (an image signature; a picture ffmpeg finds), else the name,
so a broken ``photo.png`` is reported by the image reader; ffmpeg runs only when needed.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path
from typing import Literal

from ..errors import UpscaleError
from ..imaging import INPUT_SUFFIXES
from .ffmpeg.binary import run_ffmpeg
from .ffmpeg.commands import header_command
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
    """'image', 'video', 'no video' (sound only) or None; a batch skips the last two, a single
    file that is neither is left to the image reader, which says what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        return None
    suffix = path.suffix.lower()
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if _is_still_image(head):
        # under another name, or camera raw: only the image reader, given it alone, tries it
        return "image" if suffix in INPUT_SUFFIXES else None
    if _may_be_media(head) and (kind := _kind_by_ffmpeg(path)):
        return kind
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return "image" if suffix in INPUT_SUFFIXES else None


def _kind_by_ffmpeg(path: Path) -> MediaKind | None:
    """'video', 'no video' (audio only), or None (an image, or a file ffmpeg cannot read)."""
    try:
        text = run_ffmpeg(header_command(path)).stderr
    except UpscaleError:
        return None
    header = parse_header(text)
    if header["video"] is not None:
        return "video"
    if "Input #0" not in text or is_image_format(header["format"]):
        return None
    return "no video"


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
