"""One owner per output: a second run on the same output refuses at once, in one line.

The lock is an ``flock`` on a small file beside the output, so the kernel
drops it when its owner exits for any reason (even ``kill -9``): a lock left
by a dead process never blocks anyone. The file holds the owner's pid, only
to name it in the refusal.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import UpscaleError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs are not guarded there
    fcntl = None  # type: ignore[assignment]


def lock_path_for(output: Path) -> Path:
    """``clip_x2.mp4`` -> ``.clip_x2.mp4.upscale-lock`` beside it."""
    return output.with_name(f".{output.name}.upscale-lock")


@contextlib.contextmanager
def output_lock(output: Path) -> Iterator[None]:
    """Hold the output for this process; :class:`UpscaleError` if another one holds it."""
    if fcntl is None:
        yield
        return
    path = lock_path_for(output)
    handle = _acquire(path, output)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # still holding the lock, so no one can be between open and flock
        handle.close()


def _acquire(path: Path, output: Path):
    while True:
        try:
            handle = open(path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
        except OSError as exc:
            raise UpscaleError(f"{output}: cannot write there ({exc.strerror})") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "?"
            handle.close()
            raise UpscaleError(f"{output}: another upscale run (pid {owner}) is writing it; "
                               "wait for it to finish or stop it") from None
        try:
            same_file = os.fstat(handle.fileno()).st_ino == path.stat().st_ino
        except FileNotFoundError:
            same_file = False
        if same_file:  # not a file its last owner removed while we waited to lock it
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            return handle
        handle.close()
