"""The one pipeline: read → compute → write, three stages at once (decoders, encoders and
torch release the GIL), joined by bounded queues. A stage that raises stops the others, and
its error reaches the caller; no thread ever hangs on a dead neighbour."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

POLL_S = 0.1
In = TypeVar("In")
Out = TypeVar("Out")
_END = object()


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


class StageThread(threading.Thread):
    """A thread that records its exception and raises the shared stop flag."""

    def __init__(self, work: Callable[[], None], stop: threading.Event, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._work, self._stop_flag, self.error = work, stop, None

    def run(self) -> None:
        try:
            self._work()
        except Stopped:
            pass
        except BaseException as exc:  # reported by the caller, in its thread
            self.error = exc
            self._stop_flag.set()


def run_stages(source: Iterable[In], compute: Callable[[In], Out],
               write: Callable[[Out], None], *, depth: int, name: str,
               finish_writing: Callable[[], None] = lambda: None,
               on_stop: Callable[[], None] = lambda: None,
               drain_on_interrupt: bool = False,
               stop: threading.Event | None = None) -> None:
    """Draw ``source`` in a reader thread, ``compute`` here, ``write`` in a writer thread;
    ``finish_writing`` ends the writer, ``on_stop`` cleans up an abandoned stream, and with
    ``drain_on_interrupt`` Ctrl-C still writes what was computed."""
    stop = stop or threading.Event()
    read_queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
    write_queue: queue.Queue = queue.Queue(maxsize=max(1, depth))

    def reader() -> None:
        for item in source:
            put(read_queue, item, stop)
        put(read_queue, _END, stop)

    def writer() -> None:
        while (result := get(write_queue, stop)) is not _END:
            write(result)
            del result
        finish_writing()

    threads = [StageThread(reader, stop, f"{name}-reader"),
               StageThread(writer, stop, f"{name}-writer")]
    for thread in threads:
        thread.start()
    try:
        with contextlib.suppress(Stopped):
            while (item := get(read_queue, stop)) is not _END:
                result = compute(item)
                del item
                put(write_queue, result, stop)
                del result
            put(write_queue, _END, stop)
            while threads[1].is_alive():  # the last writes land (Ctrl-C stays possible)
                threads[1].join(timeout=0.2)
    except BaseException as exc:
        if drain_on_interrupt and isinstance(exc, KeyboardInterrupt):
            with contextlib.suppress(Stopped):
                put(write_queue, _END, stop)
                threads[1].join()
        stop.set()
        raise
    finally:
        if stop.is_set():
            on_stop()
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    for thread in threads:
        if thread.error is not None:
            raise thread.error
