"""Give memory that was freed back to the system, where the C library keeps it otherwise.

glibc's allocator keeps freed blocks in its heaps (one per thread that allocated) for
reuse; a tile's buffers, freed in a different order each time, leave them fragmented,
and the process's resident size creeps up by hundreds of MB over a large image although
nothing is in use. ``malloc_trim`` returns those pages. Elsewhere it is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl)
        return None


def give_back_freed_memory() -> None:
    """Return freed heap pages to the system (glibc), so the resident size is what is used."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
