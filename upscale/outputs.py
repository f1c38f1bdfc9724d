"""Rules for every file the tool writes: checked before any model loads, owned by one run
(:class:`OutputLock`), and never half-written (:func:`write_atomically`)."""

from __future__ import annotations

import contextlib
import errno
import math
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from filelock import FileLock, Timeout

from .errors import UpscaleError
from .limits import nearest_existing


class DestinationError(UpscaleError):
    """The output cannot be written where the user asked."""


DEFAULT_NAME_TEMPLATE = "{stem}_x{scale}.{ext}"  # a folder run's default (--name-template)


def format_scale(scale: float) -> str:
    """4.0 -> '4', 1.5 -> '1.5': the way scales appear in output names."""
    return f"{scale:g}"


def default_output(source: Path, scale: float, suffix: str = ".png") -> Path:
    """``photo.jpg`` at x4 -> ``photo_x4.png`` beside the input (``clip_x2.mp4`` for a video)."""
    return source.with_name(f"{source.stem}_x{format_scale(scale)}{suffix}")


def default_output_dir(input_dir: Path, scale: float) -> Path:
    """``photos/`` at x4 -> ``photos_x4/`` beside it."""
    real = Path(input_dir).resolve()
    return real.parent / f"{real.name}_x{format_scale(scale)}"


def place_output(default: Path, output: Path | None, *, as_folder: bool = False) -> Path:
    """Where an output goes: ``default`` without ``-o``; ``-o`` itself when it names a file;
    the default's name inside ``-o`` when that is a folder (it exists, or ended in /)."""
    if output is None:
        return default
    if as_folder or output.is_dir():
        return output / default.name
    return output


MAX_SCALE = 16.0  # far past what any network adds; above it a typo (-s 400) fills the disk


def check_scale(scale: float | None) -> None:
    """An explicit output scale must be a finite positive number, at most ``MAX_SCALE``."""
    if scale is not None and not (math.isfinite(scale) and 0 < scale <= MAX_SCALE):
        raise UpscaleError(f"the scale (-s) must be a finite number above 0 and at most "
                           f"{MAX_SCALE:g}, not {scale:g}")


def output_scale(asked: float | None, network: Any) -> float:
    """The scale a run produces: the one asked for (``-s``), else the network's own output
    scale (a descriptor's, or a cluster's handle's). Every road asks this one function."""
    scale = float(asked) if asked is not None else float(network.output_scale)
    check_scale(scale)
    return scale


def output_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """Rounded half up, never below one pixel (a video frame comes out as its still would)."""
    return max(1, math.floor(width * scale + 0.5)), max(1, math.floor(height * scale + 0.5))


def already_exists(target: Path) -> str:
    """What a run says of an output it keeps."""
    return f"{target}: already exists (--overwrite, or overwrite=True from Python, replaces it)"


def refuse_existing(target: Path, overwrite: bool) -> None:
    """Existing outputs are kept unless the user said --overwrite."""
    if not overwrite and (target.exists() or target.is_symlink()):
        raise UpscaleError(already_exists(target))


def input_clash(input_name: str = "") -> str:
    """Why an output is refused when it would replace an input (its own, or another)."""
    what = f"the input {input_name}" if input_name else "the input"
    return f"refusing to overwrite {what} (inputs are never modified)"


def is_same_file(target: Path, source: Path) -> bool:
    """Whether writing ``target`` would replace ``source`` (the same path, or a link to it)."""
    if Path(os.path.abspath(target)) == Path(os.path.abspath(source)):
        return True
    return target.exists() and source.exists() and os.path.samefile(target, source)


def refuse_input_clash(target: Path, source: Path) -> None:
    """An output never replaces its own input, whatever --overwrite says."""
    if is_same_file(target, source):
        raise UpscaleError(f"{target}: {input_clash()}")


def check_writable_folder(folder: Path, what: str) -> None:
    """``folder`` is a writable folder, or can be created under one (when written into)."""
    existing = nearest_existing(folder)
    if not existing.is_dir():
        raise DestinationError(f"{what}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DestinationError(f"{what}: cannot write in {existing} (permission denied)")


def check_destination(target: Path, *, source: Path | None = None) -> None:
    """What can be known about writing ``target`` before any work is done, except whether it
    exists (:func:`refuse_existing`, or ``OutputLock.for_file(target, overwrite=...)``)."""
    if source is not None:
        refuse_input_clash(target, source)
    if target.is_dir():
        raise DestinationError(f"{target}: is a folder; give a file name, or end -o with /")
    check_writable_folder(target.parent, str(target))


def file_mode_for(target: Path) -> int:
    """The mode a fresh file gets under the user's umask (kept from ``target`` if it exists)."""
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        return -1


PARTIAL_MARK = ".part"  # .NAME.XXXXXXXX.part.EXT: hidden, and still ending in the format's suffix


def temporary_sibling(target: Path) -> Path:
    """A hidden, unique name beside ``target`` that keeps its suffix, so writers that pick
    the format from the name (ffmpeg, OpenCV) write what the target will be."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}{PARTIAL_MARK}{target.suffix}")


def write_atomically(target: Path, write: Callable[[Path], None], *,
                     overwrite: bool = True) -> Path:
    """Let ``write`` fill a temporary sibling of ``target`` (it may recreate it), then rename
    it into place with the replaced file's mode, else 0666 less the umask (not tempfile's
    0600, which would hide outputs from the user's group)."""
    target = Path(target)
    if not overwrite:  # a caller that owns the output has refused an existing one already
        refuse_existing(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_sibling(target)
    kept_mode = file_mode_for(target)
    try:
        os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        try:
            umask_mode = file_mode_for(temporary)  # 0666 less the umask, applied by the kernel
            write(temporary)
            os.chmod(temporary, kept_mode if kept_mode >= 0 else umask_mode)  # may be recreated
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
    except OSError as exc:  # a full disk, a read-only file system: the user's to fix
        if exc.errno not in STORAGE_ERRORS:
            raise  # not about this file (a download that failed, say): its own message
        raise cannot_write(target, exc) from exc
    return target


# What a file system answers when a file cannot be written there, whatever the writer.
STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                  errno.EFBIG, errno.EIO, errno.ENOENT, errno.ENOTDIR, errno.EISDIR,
                  errno.ENAMETOOLONG}


class UnwritableOutput(DestinationError, OSError):
    """The file system refused a write: a user's error (one line), and still an OSError to
    code that falls back when a cache cannot be written."""


def cannot_write(target: Path, exc: OSError) -> UnwritableOutput:
    """One line naming the output and what the system said (no space left, read-only...)."""
    return UnwritableOutput(f"{target}: cannot write it ({exc.strerror or exc})")


def write_bytes_atomically(target: Path, data: bytes, *, overwrite: bool = False) -> Path:
    """``data`` as the whole new content of ``target``, atomically."""
    return write_atomically(Path(target), lambda path: path.write_bytes(data), overwrite=overwrite)


def partial_files(target: Path) -> list[Path]:
    """Temporary files an interrupted write left for ``target`` (``.NAME.XXXXXXXX.part.EXT``,
    or ``.NAME.XXXXXXXX.part`` as earlier versions named them)."""
    prefix = f".{target.name}."
    endings = (PARTIAL_MARK + target.suffix, PARTIAL_MARK)
    if not target.parent.is_dir():
        return []
    return [target.parent / name for name in os.listdir(target.parent)
            if name.startswith(prefix) and any(
                name.endswith(end) and len(name) == len(prefix) + 8 + len(end) for end in endings)]


class OutputLock:
    """One run at a time per output (a file, a folder, a video's work folder): the operating
    system's lock on a file beside or inside it, so a killed run leaves no stale lock."""

    # Locks this process holds, and how many times each was entered: the command takes an
    # output's lock before its model loads, and the engine it calls enters it again.
    _held: ClassVar[dict[str, int]] = {}

    def __init__(self, lock_path: Path, what: str, *, existing: Callable[[], None] | None = None
                 ) -> None:
        self.path = Path(lock_path)
        self.what = what
        self._lock = FileLock(str(self.path), timeout=0)
        self._key = os.path.abspath(self.path)
        self._existing = existing

    @classmethod
    def for_file(cls, target: Path, *, overwrite: bool | None = None) -> OutputLock:
        """The lock of one output file; with ``overwrite``, the run that takes it first
        refuses an existing output then (once: a holder that enters it again does not)."""
        target = Path(target)
        existing = None if overwrite is None else (lambda: refuse_existing(target, overwrite))
        return cls(target.with_name(f".{target.name}.lock"), str(target), existing=existing)

    @classmethod
    def for_folder(cls, folder: Path) -> OutputLock:
        return cls(Path(folder) / ".upscale.lock", f"{folder}{os.sep}")

    def __enter__(self) -> OutputLock:
        if self._key in OutputLock._held:
            OutputLock._held[self._key] += 1
            return self
        self._created_folder = not self.path.parent.exists()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        except Timeout:  # (an OSError too) also what filelock says of a file it cannot create
            self._refuse_unwritable()
            raise UpscaleError(f"{self.what}: another upscale run is writing this output now; "
                               "wait for it to finish, or choose another -o") from None
        except OSError as exc:
            raise cannot_write(Path(self.what), exc) from exc
        OutputLock._held[self._key] = 1
        if self._existing is not None:
            try:
                self._existing()  # under the lock: no other run can finish it meanwhile
            except BaseException:
                self.__exit__(None, None, None)
                raise
        return self

    def _refuse_unwritable(self) -> None:
        """filelock reports a lock file it cannot create as busy: say the real cause."""
        if self.path.exists():
            return  # held by another run
        try:
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            return
        except OSError as exc:
            raise cannot_write(Path(self.what), exc) from None
        self.path.unlink(missing_ok=True)  # the probe only; the owner has just let go

    def __exit__(self, *exc_info: object) -> None:
        OutputLock._held[self._key] -= 1
        if OutputLock._held[self._key]:
            return  # an outer holder keeps it
        del OutputLock._held[self._key]
        self.path.unlink(missing_ok=True)
        self._lock.release()
        if self._created_folder:  # a run that wrote nothing leaves no empty folder behind
            with contextlib.suppress(OSError):
                self.path.parent.rmdir()
