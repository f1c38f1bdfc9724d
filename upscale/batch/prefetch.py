"""Keep the network busy: decode ahead and encode behind, in bounded queues.

Three stages run at once: a reader thread decodes the next files, the calling
thread runs the network, a writer thread encodes and writes finished results.
Decoders, encoders and torch release the GIL, so the stages really overlap.
The queues hold at most ``depth`` items each, which bounds memory whatever the
folder's size. A failure in any stage belongs to its item only: it is handed
to ``on_failure`` and the stream goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from ..stages import run_stages

Item = TypeVar("Item")


def run_overlapped(items: Iterable[Item], *,
                   read: Callable[[Item], Any],
                   compute: Callable[[Item, Any], Any],
                   write: Callable[[Item, Any], None],
                   on_failure: Callable[[Item, str, BaseException], None],
                   depth: int = 2) -> None:
    """read -> compute -> write for every item, through :func:`upscale.stages.run_stages`.

    ``on_failure(item, stage, error)`` is called once for an item whose stage
    raised. ``depth=0`` runs everything in the calling thread, one item at a time.
    On Ctrl-C, results already computed are still written.
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

    def decoded() -> Iterator[tuple[Item, Any, BaseException | None]]:
        for item in items:
            try:
                yield item, read(item), None
            except Exception as exc:  # noqa: BLE001
                yield item, None, exc

    def computed(entry: tuple[Item, Any, BaseException | None]
                 ) -> tuple[Item, Any, BaseException | None]:
        item, data, error = entry
        if error is not None:
            on_failure(item, "read", error)
            return item, None, error
        try:
            return item, compute(item, data), None
        except Exception as exc:  # noqa: BLE001
            on_failure(item, "compute", exc)
            return item, None, exc

    def written(entry: tuple[Item, Any, BaseException | None]) -> None:
        item, result, error = entry
        if error is None:
            try:
                write(item, result)
            except Exception as exc:  # noqa: BLE001
                on_failure(item, "write", exc)

    run_stages(decoded(), computed, written, depth=depth, name="batch",
               drain_on_interrupt=True)
