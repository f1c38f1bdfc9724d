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
    path = Path(path)
    if not path.is_file():
        return False
    with path.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return False
    from .ffmpeg_bin import run_ffmpeg
    from .probe import parse_header

    try:
        text = run_ffmpeg(["-i", str(path)], check=False).stderr
    except UpscaleError:
        return False
    return parse_header(path, text)["video"] is not None
