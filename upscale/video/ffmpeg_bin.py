"""Which ffmpeg to run, and running it with errors a user can read.

``$UPSCALE_FFMPEG`` wins (a path, or ``bundled``); then a system ``ffmpeg`` on
PATH (it may have hardware encoders); otherwise the static binary that the
``imageio-ffmpeg`` wheel ships, so ``pip install`` alone is enough. A system
ffmpeg older than ``MIN_VERSION`` is passed over for the bundled one, with a
note: 4.2 loses a Matroska source's rotation. ffprobe is never needed.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Sequence

from ..errors import UpscaleError

ENV_OVERRIDE = "UPSCALE_FFMPEG"
BUNDLED = "bundled"
MIN_VERSION = (5, 1)  # the oldest ffmpeg whose results the test suite has checked
_VERSION = re.compile(r"ffmpeg version \D{0,2}(\d+)\.(\d+)")


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
        import imageio_ffmpeg
    except ImportError as exc:
        raise UpscaleError("video needs ffmpeg: install it, or `pip install imageio-ffmpeg`"
                           ) from exc
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise UpscaleError(f"video needs ffmpeg, and imageio-ffmpeg has none here: {exc}") from exc


@functools.lru_cache(maxsize=4)
def ffmpeg_version(exe: str) -> tuple[int, int] | None:
    """(major, minor) from ``exe -version``; None for a git snapshot or an unknown format."""
    try:
        text = subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, text=True,
                              errors="replace", check=False, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UpscaleError(f"cannot run ffmpeg ({exe}): {exc}") from exc
    match = _VERSION.search(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


@functools.lru_cache(maxsize=1)
def _full_help() -> str:
    return run_ffmpeg(["-h", "full"], check=False).stdout


def supports_option(name: str) -> bool:
    """Whether this ffmpeg knows ``-name`` (options come and go between versions)."""
    return f"\n-{name}" in _full_help()


def passthrough_option() -> dict[str, str]:
    """Keep every frame with its own timestamp: ``-fps_mode`` (5.1+) or the older ``-vsync``."""
    if supports_option("fps_mode"):
        return {"fps_mode": "passthrough"}
    return {"vsync": "passthrough"}


def run_ffmpeg(args: Sequence[str], *, check: bool = True,
               stdout: int = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    """Run ffmpeg to completion; with ``check``, a failure raises its own last words."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *args], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, errors="replace", check=False)
    if check and proc.returncode != 0:
        raise UpscaleError(f"ffmpeg failed: {last_error(proc.stderr)}")
    return proc


_ADDRESS = re.compile(r"\[([^\]@]+?) @ 0x[0-9a-f]+\] ")
_TROUBLE = re.compile(r"error|invalid|not supported|unknown|no such|unable|cannot|could not|"
                      r"not found|unrecognized|does not|truncated|moov", re.IGNORECASE)
_GENERIC = ("Conversion failed", "Nothing was written", "Error opening output file",
            "Error opening input file", "Error while opening encoder", "Exiting with",
            "Error sending frames", "Error closing", "Task finished with error",
            "Terminating thread", "Could not open encoder before EOF")


def last_error(stderr: str, lines: int = 2) -> str:
    """ffmpeg's own message: its most specific complaint, then its last words, on one line."""
    kept = [_ADDRESS.sub(r"\1: ", line.strip()) for line in stderr.splitlines() if line.strip()]
    kept = [line for line in kept if not line.startswith(("frame=", "size=", "Press [q]"))]
    specific = [line for line in kept if _TROUBLE.search(line)
                and not any(generic in line for generic in _GENERIC)]
    chosen = specific[:1] + [line for line in kept[-lines:] if line not in specific[:1]]
    return " / ".join(chosen) or "no message"
