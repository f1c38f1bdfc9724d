"""Which ffmpeg to run, how each of its command lines starts, and what it can do.

``$UPSCALE_FFMPEG`` wins (a path, or ``bundled``); then a system ``ffmpeg`` on
PATH (it may have hardware encoders); otherwise the static binary that the
``imageio-ffmpeg`` wheel ships, so ``pip install`` alone is enough. A system
ffmpeg older than ``MIN_VERSION`` is passed over for the bundled one, with a
note: 4.2 loses a Matroska source's rotation. ffprobe is never needed (the
bundled build has none), so one code path serves both.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from collections.abc import Sequence

import imageio_ffmpeg

from ...errors import UpscaleError
from .process import run_ffmpeg

ENV_OVERRIDE = "UPSCALE_FFMPEG"
BUNDLED = "bundled"
MIN_VERSION = (5, 1)  # the oldest ffmpeg whose results the test suite has checked
_VERSION = re.compile(r"ffmpeg version \D{0,2}(\d+)\.(\d+)")


def ffmpeg_args(args: Sequence[str], *, exe: str | None = None) -> list[str]:
    """A whole command line: the chosen binary (or ``exe``), quiet and never reading keys."""
    return [exe or ffmpeg_exe(), "-hide_banner", "-nostdin", *args]


@functools.lru_cache(maxsize=1)
def ffmpeg_choice() -> tuple[str, str | None]:
    """The ffmpeg binary to run, and a one-line note when the preferred one was passed over."""
    requested = os.environ.get(ENV_OVERRIDE) or ""
    preferred = None if requested == BUNDLED else requested or shutil.which("ffmpeg")
    if preferred is None:
        return bundled_exe(), None
    version = ffmpeg_version(preferred)
    if version is None or version >= MIN_VERSION:
        return preferred, None
    older = f"{preferred} is ffmpeg {version[0]}.{version[1]}"
    wanted = f"{MIN_VERSION[0]}.{MIN_VERSION[1]}"
    try:
        bundled = bundled_exe()
    except UpscaleError as exc:
        raise UpscaleError(f"{older}; video needs ffmpeg {wanted} or newer ({exc})") from exc
    return bundled, f"{older}, older than {wanted}: using the ffmpeg bundled with imageio-ffmpeg"


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary (see :func:`ffmpeg_choice`)."""
    return ffmpeg_choice()[0]


def bundled_exe() -> str:
    """The static ffmpeg that the ``imageio-ffmpeg`` wheel ships."""
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise UpscaleError(f"video needs ffmpeg, and imageio-ffmpeg has none here: {exc}") from exc


@functools.lru_cache(maxsize=4)
def ffmpeg_version(exe: str) -> tuple[int, int] | None:
    """(major, minor) from ``exe -version``; None for a git snapshot or an unknown format."""
    text = run_ffmpeg(ffmpeg_args(["-version"], exe=exe), check=False, timeout=30).stdout
    match = _VERSION.search(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


@functools.lru_cache(maxsize=1)
def _full_help() -> str:
    return run_ffmpeg(ffmpeg_args(["-h", "full"]), check=False).stdout


def supports_option(name: str) -> bool:
    """Whether this ffmpeg knows ``-name`` (options come and go between versions)."""
    return f"\n-{name}" in _full_help()


def passthrough_option() -> dict[str, str]:
    """Keep every frame with its own timestamp: ``-fps_mode`` (5.1+) or the older ``-vsync``."""
    if supports_option("fps_mode"):
        return {"fps_mode": "passthrough"}
    return {"vsync": "passthrough"}


@functools.lru_cache(maxsize=32)
def encoder_pix_fmts(codec: str) -> tuple[str, ...]:
    """Pixel formats an encoder accepts; :class:`UpscaleError` if ffmpeg lacks it."""
    text = run_ffmpeg(ffmpeg_args(["-h", f"encoder={codec}"]), check=False).stdout
    if "is not recognized" in text or f"Encoder {codec}" not in text:
        raise UpscaleError(f"--codec {codec}: this ffmpeg has no such encoder")
    match = re.search(r"Supported pixel formats: (.*)", text)
    return tuple(match.group(1).split()) if match else ()
