"""Is this file a video? Decided by its content, not its name."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UpscaleError

# Still-image signatures: answered without starting ffmpeg (batches hold thousands).
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*", b"GIF8",
                b"\x00\x00\x00\x0cjP  ", b"\xff\x0a", b"v/1\x01", b"DDS ")


def is_video(path: str | os.PathLike) -> bool:
    """True when ffmpeg finds a moving-picture stream (not a still, not cover art) in it."""
    return video_presence(path) is True


def video_presence(path: str | os.PathLike) -> bool | None:
    """True for a video; False for a media file with no video stream (audio only);
    None for anything else (an image, or a file ffmpeg cannot read)."""
    path = Path(path)
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return None
    from .ffmpeg_bin import run_ffmpeg
    from .probe import is_image_format, parse_header

    try:
        text = run_ffmpeg(["-i", str(path)], check=False).stderr
    except UpscaleError:
        return None
    header = parse_header(path, text)
    if header["video"] is not None:
        return True
    if "Input #0" not in text or is_image_format(header["format"]):
        return None
    return False
