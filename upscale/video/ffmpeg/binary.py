"""Which ffmpeg to run, how each of its command lines starts, running it, and what it can do.

``$UPSCALE_FFMPEG`` (a path, or ``bundled``), else ``ffmpeg`` on PATH unless older than
``MIN_VERSION``, else imageio-ffmpeg's own, so ``pip install`` is enough. No ffprobe.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Sequence

import imageio_ffmpeg

from ...errors import UpscaleError

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
    text = run_ffmpeg(ffmpeg_args(["-version"], exe=exe), timeout=30).stdout
    match = _VERSION.search(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


@functools.lru_cache(maxsize=1)
def _full_help() -> str:
    return run_ffmpeg(ffmpeg_args(["-h", "full"])).stdout


def supports_option(name: str) -> bool:
    """Whether this ffmpeg knows ``-name`` (options come and go between versions)."""
    return f"\n-{name}" in _full_help()


def passthrough_option() -> dict[str, str]:
    """Keep every frame with its own timestamp: ``-fps_mode`` (5.1+) or the older ``-vsync``."""
    return {"fps_mode" if supports_option("fps_mode") else "vsync": "passthrough"}


@functools.lru_cache(maxsize=32)
def encoder_pix_fmts(codec: str) -> tuple[str, ...]:
    """Pixel formats an encoder accepts; :class:`UpscaleError` if ffmpeg lacks it."""
    text = run_ffmpeg(ffmpeg_args(["-h", f"encoder={codec}"])).stdout
    if "is not recognized" in text or f"Encoder {codec}" not in text:
        raise UpscaleError(f"--codec {codec}: this ffmpeg has no such encoder")
    match = re.search(r"Supported pixel formats: (.*)", text)
    return tuple(match.group(1).split()) if match else ()


def run_ffmpeg(argv: list[str], timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run a whole ffmpeg command line; the caller reads its exit code and output."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, errors="replace",
                              check=False, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UpscaleError(f"cannot run ffmpeg ({argv[0]}): {exc}") from exc


class Process:
    """A running ffmpeg; ``wait_ok`` turns a failure into ffmpeg's own message."""

    def __init__(self, argv: list[str], what: str, *, cwd: str | None = None,
                 stdin: int | None = None, stdout: int | None = None) -> None:
        self.what = what
        self._log: collections.deque[str] = collections.deque(maxlen=40)
        try:
            # its own session: Ctrl-C reaches us, who stop ffmpeg rather than it finish a file
            self.popen = subprocess.Popen(argv, cwd=cwd, stdin=stdin, stdout=stdout,
                                          stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise UpscaleError(f"cannot start ffmpeg ({argv[0]}): {exc}") from exc
        self._drain = threading.Thread(target=lambda: self._log.extend(
            raw.decode("utf-8", "replace") for raw in self.popen.stderr), daemon=True)
        self._drain.start()

    def error_message(self) -> str:
        self._drain.join(timeout=5)
        return f"ffmpeg failed while {self.what}: {last_error(''.join(self._log))}"

    def wait_ok(self) -> None:
        if self.popen.wait() != 0:
            raise UpscaleError(self.error_message())

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()
        for pipe in (self.popen.stdin, self.popen.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


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
