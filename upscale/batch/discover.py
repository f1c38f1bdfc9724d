"""Find the files of a folder that a batch should look at: hidden ones (our ``.part`` files,
tools' caches), symlinked folders (loops) and the output folder (outputs are not inputs) are
left out."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence
from pathlib import Path


def find_files(input_dir: Path, *, recursive: bool, patterns: Sequence[str] = (),
               exclude: Iterable[Path] = ()) -> tuple[list[Path], int]:
    """Files under ``input_dir`` in a stable order (sorted by relative path), and how many
    subfolders were not searched (all of them, without ``recursive``)."""
    excluded = {os.path.realpath(path) for path in exclude}
    found: list[Path] = []
    unsearched = 0
    for folder, dirnames, filenames in os.walk(input_dir, followlinks=False):
        dirnames[:] = sorted(
            name for name in dirnames
            if not name.startswith(".")
            and os.path.realpath(os.path.join(folder, name)) not in excluded)
        if not recursive:
            unsearched, dirnames[:] = len(dirnames), []
        for name in filenames:
            path = Path(folder, name)
            if name.startswith(".") or not path.is_file():
                continue
            if matches(path.relative_to(input_dir), patterns):
                found.append(path)
    return sorted(found, key=lambda path: path.relative_to(input_dir).as_posix()), unsearched


def matches(relative: Path, patterns: Sequence[str]) -> bool:
    """Shell-style match, case-insensitive (cameras write ``.JPG``): of the file name, or with
    ``/`` of the relative path, part by part, ``**`` standing for any number of folders."""
    if not patterns:
        return True
    parts = [part.lower() for part in relative.parts]
    for pattern in patterns:
        pattern = pattern.lower().strip("/")
        if "/" not in pattern:
            if fnmatch.fnmatchcase(parts[-1], pattern):
                return True
        elif _match_parts(parts, pattern.split("/")):
            return True
    return False


def _match_parts(parts: list[str], pattern: list[str]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match_parts(parts[i:], pattern[1:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) \
        and _match_parts(parts[1:], pattern[1:])
