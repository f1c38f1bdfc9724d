"""Queue hand-offs between pipeline threads that give up when a shared stop flag is set.

The folder prefetcher and the video pipeline both run stages in threads joined by
bounded queues. A plain blocking ``put``/``get`` would hang a stage forever once
its neighbour has died (an error, Ctrl-C); these poll the stop flag instead and
raise :class:`Stopped`, which a stage catches to return quietly.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

POLL_S = 0.1


class Stopped(Exception):
    """The stream was abandoned (an error elsewhere, an interrupt); the stage should return."""


def put(target: queue.Queue, value: object, stop: threading.Event) -> None:
    """``target.put(value)``, unless ``stop`` is set first."""
    while not stop.is_set():
        try:
            target.put(value, timeout=POLL_S)
            return
        except queue.Full:
            continue
    raise Stopped


def get(source: queue.Queue, stop: threading.Event) -> Any:
    """``source.get()``, unless ``stop`` is set first."""
    while not stop.is_set():
        try:
            return source.get(timeout=POLL_S)
        except queue.Empty:
            continue
    raise Stopped
