"""Keep the network busy: decode ahead and encode behind, in bounded queues.

Three stages run at once: a reader thread decodes the next files, the calling
thread runs the network, a writer thread encodes and writes finished results.
Decoders, encoders and torch release the GIL, so the stages really overlap.
The queues hold at most ``depth`` items each, which bounds memory whatever the
folder's size. A failure in any stage belongs to its item only: it is handed
to ``on_failure`` and the stream goes on.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ..stoppable import Stopped, get, put

Item = TypeVar("Item")
_END = object()


def run_overlapped(items: Iterable[Item], *,
                   read: Callable[[Item], Any],
                   compute: Callable[[Item, Any], Any],
                   write: Callable[[Item, Any], None],
                   on_failure: Callable[[Item, str, BaseException], None],
                   depth: int = 2) -> None:
    """read -> compute -> write for every item; compute runs in the calling thread.

    ``on_failure(item, stage, error)`` is called once for an item whose stage
    raised. ``depth=0`` runs everything in the calling thread, one item at a time.
    """
    if depth <= 0:
        for item in items:
            stage = "read"
            try:
                data = read(item)
                stage = "compute"
                result = compute(item, data)
                stage = "write"
                write(item, result)
            except Exception as exc:  # noqa: BLE001 - one file's failure is not the batch's
                on_failure(item, stage, exc)
        return

    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=depth)
    finished: queue.Queue = queue.Queue(maxsize=depth)
    crashed: list[BaseException] = []

    def reader() -> None:
        try:
            for item in items:
                try:
                    put(decoded, (item, read(item), None), stop)
                except Stopped:
                    raise
                except Exception as exc:  # noqa: BLE001
                    put(decoded, (item, None, exc), stop)
            put(decoded, _END, stop)
        except Stopped:
            return
        except BaseException as exc:  # a bug in the reader itself: stop everything
            crashed.append(exc)
            stop.set()

    def writer() -> None:
        try:
            while (entry := get(finished, stop)) is not _END:
                item, result = entry
                try:
                    write(item, result)
                except Exception as exc:  # noqa: BLE001
                    on_failure(item, "write", exc)
        except Stopped:
            return
        except BaseException as exc:
            crashed.append(exc)
            stop.set()

    threads = [threading.Thread(target=reader, name="batch-reader", daemon=True),
               threading.Thread(target=writer, name="batch-writer", daemon=True)]
    for thread in threads:
        thread.start()
    try:
        while (entry := get(decoded, stop)) is not _END:
            item, data, error = entry
            if error is not None:
                on_failure(item, "read", error)
                continue
            try:
                result = compute(item, data)
            except Exception as exc:  # noqa: BLE001
                on_failure(item, "compute", exc)
                continue
            del data
            put(finished, (item, result), stop)
            del result
        put(finished, _END, stop)
        threads[1].join()  # let the last writes land
    except KeyboardInterrupt:
        # Ctrl-C: results already computed are still written (a second Ctrl-C stops that).
        with contextlib.suppress(Stopped):
            put(finished, _END, stop)
            threads[1].join()
        raise
    except Stopped:
        pass
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    if crashed:
        raise crashed[0]
