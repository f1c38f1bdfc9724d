"""Find the files of a folder that a batch should look at.

Hidden files and folders (``.name``) are left out: they include our own
temporary ``.part`` files and tools' caches. Symlinked folders are not
followed (no loops, no wandering out of the tree); symlinked files are read
like any other file, since reading never changes them. The output folder, when
it lies inside the input folder, is never searched: outputs are not inputs.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence
from pathlib import Path


def find_files(input_dir: Path, *, recursive: bool, patterns: Sequence[str] = (),
               exclude: Iterable[Path] = ()) -> list[Path]:
    """Files under ``input_dir`` in a stable order (sorted by relative path)."""
    excluded = {os.path.realpath(path) for path in exclude}
    found: list[Path] = []
    for folder, dirnames, filenames in os.walk(input_dir, followlinks=False):
        dirnames[:] = sorted(
            name for name in dirnames
            if not name.startswith(".")
            and os.path.realpath(os.path.join(folder, name)) not in excluded
        ) if recursive else []
        for name in filenames:
            path = Path(folder, name)
            if name.startswith(".") or not path.is_file():
                continue
            if matches(path.relative_to(input_dir), patterns):
                found.append(path)
    return sorted(found, key=lambda path: path.relative_to(input_dir).as_posix())


def subfolders(input_dir: Path, *, exclude: Iterable[Path] = ()) -> list[Path]:
    """The visible folders directly inside ``input_dir`` (what ``-r`` would add)."""
    excluded = {os.path.realpath(path) for path in exclude}
    return sorted(entry for entry in Path(input_dir).iterdir()
                  if entry.is_dir() and not entry.name.startswith(".")
                  and os.path.realpath(entry) not in excluded)


def matches(relative: Path, patterns: Sequence[str]) -> bool:
    """Shell-style match, case-insensitive (cameras write ``.JPG``).

    A pattern without ``/`` matches the file name; one with ``/`` matches the
    whole path relative to the input folder, part by part, where ``**`` stands
    for any number of folders.
    """
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
