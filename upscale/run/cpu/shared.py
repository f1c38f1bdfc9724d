"""What the CPU engines share: the cores they may use, how freed memory is kept, and how
they are timed against each other."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import time
from collections.abc import Callable

import torch

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
MAPPED_FROM_BYTES = 32 << 20  # glibc's largest: blocks this big are still mapped anew
KEPT_FREE_BYTES = 64 << 20  # freed memory kept at the heap's top between explicit trims
TIMED_AT_LEAST_S, MOST_REPEATS = 1.0, 10  # a fast network is timed more often: less noise


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def use_all_cores() -> None:
    """Give PyTorch's intra-op pool every core this process may run on."""
    if torch.get_num_threads() != cpu_count():
        torch.set_num_threads(cpu_count())


@functools.cache
def glibc() -> ctypes.CDLL | None:
    """The C library if it is glibc (it has ``mallopt`` and ``malloc_trim``), else None."""
    try:
        library = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return library if hasattr(library, "mallopt") and hasattr(library, "malloc_trim") else None


def keep_freed_memory() -> None:
    """Have glibc reuse freed blocks instead of unmapping each one: otherwise every layer's
    output is page-faulted in anew on every call (RealPLKSR at 128 px: 57 -> 47 s/MP). The
    engine still gives memory back after each large tile and row (``malloc_trim``)."""
    if (libc := glibc()) is not None:
        libc.mallopt(M_MMAP_THRESHOLD, MAPPED_FROM_BYTES)
        libc.mallopt(M_TRIM_THRESHOLD, KEPT_FREE_BYTES)


def best_seconds(engine: Callable[[torch.Tensor], object], x: torch.Tensor, repeats: int
                 ) -> float:
    """The fastest of at least ``repeats`` calls, more (up to :data:`MOST_REPEATS`) until
    :data:`TIMED_AT_LEAST_S` is spent: one 0.2 s call can be 5% off its usual time."""
    times: list[float] = []
    while len(times) < repeats or (sum(times) < TIMED_AT_LEAST_S and len(times) < MOST_REPEATS):
        start = time.perf_counter()
        engine(x)
        times.append(time.perf_counter() - start)
    return min(times)
