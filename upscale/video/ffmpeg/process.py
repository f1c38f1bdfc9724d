"""Running ffmpeg: to completion, or as a child streaming frames, with errors a user can read."""

from __future__ import annotations

import collections
import contextlib
import re
import subprocess
import threading

from ...errors import UpscaleError


def run_ffmpeg(argv: list[str], *, check: bool = True,
               timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run a whole ffmpeg command line; with ``check``, a failure raises its own last words."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, errors="replace",
                              check=False, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UpscaleError(f"cannot run ffmpeg ({argv[0]}): {exc}") from exc
    if check and proc.returncode != 0:
        raise UpscaleError(f"ffmpeg failed: {last_error(proc.stderr)}")
    return proc


class Process:
    """A running ffmpeg; ``wait_ok`` turns a failure into ffmpeg's own message."""

    def __init__(self, argv: list[str], what: str, *, cwd: str | None = None,
                 stdin: int | None = None, stdout: int | None = None) -> None:
        self.what = what
        self._log: collections.deque[str] = collections.deque(maxlen=40)
        try:
            # A session of its own: Ctrl-C reaches us, and we stop ffmpeg ourselves,
            # rather than ffmpeg trying to finish a half-written file.
            self.popen = subprocess.Popen(argv, cwd=cwd, stdin=stdin, stdout=stdout,
                                          stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise UpscaleError(f"cannot start ffmpeg ({argv[0]}): {exc}") from exc
        self._drain = threading.Thread(target=self._read_log, daemon=True)
        self._drain.start()

    def _read_log(self) -> None:
        for raw in self.popen.stderr:
            self._log.append(raw.decode("utf-8", "replace"))

    @property
    def log(self) -> str:
        self._drain.join(timeout=5)
        return "".join(self._log)

    def error_message(self) -> str:
        return f"ffmpeg failed while {self.what}: {last_error(self.log)}"

    def wait_ok(self) -> None:
        code = self.popen.wait()
        if code != 0:
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
