"""What the CPU engines share: the cores they may use."""

from __future__ import annotations

import os

import torch


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def use_all_cores() -> None:
    """Give PyTorch's intra-op pool every core this process may run on."""
    if torch.get_num_threads() != cpu_count():
        torch.set_num_threads(cpu_count())
