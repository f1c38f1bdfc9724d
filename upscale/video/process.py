"""One ffmpeg child process, with its log drained so it can never block on stderr."""

from __future__ import annotations

import collections
import contextlib
import subprocess
import threading

from ..errors import UpscaleError
from .ffmpeg_bin import last_error


class Process:
    """A running ffmpeg; ``wait_ok`` turns a failure into ffmpeg's own message."""

    def __init__(self, args: list[str], what: str, *, cwd: str | None = None,
                 stdin: int | None = None, stdout: int | None = None) -> None:
        self.what = what
        self._log: collections.deque[str] = collections.deque(maxlen=40)
        try:
            # A session of its own: Ctrl-C reaches us, and we stop ffmpeg ourselves,
            # rather than ffmpeg trying to finish a half-written file.
            self.popen = subprocess.Popen(args, cwd=cwd, stdin=stdin, stdout=stdout,
                                          stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise UpscaleError(f"cannot start ffmpeg ({args[0]}): {exc}") from exc
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
