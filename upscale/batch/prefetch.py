"""Keep the network busy: decode ahead and encode behind, in bounded queues, where a
failure belongs to its file alone (it goes to ``on_failure`` and the stream goes on)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from ..stages import run_stages

Item = TypeVar("Item")
Entry = tuple[Item, Any, BaseException | None]


def run_overlapped(items: Iterable[Item], *,
                   read: Callable[[Item], Any],
                   compute: Callable[[Item, Any], Any],
                   write: Callable[[Item, Any], None],
                   on_failure: Callable[[Item, str, BaseException], None],
                   depth: int = 2) -> None:
    """read -> compute -> write for every item, through :func:`upscale.stages.run_stages`;
    ``on_failure(item, stage, error)`` once for an item whose stage raised. ``depth=0`` runs
    one item at a time in the calling thread. On Ctrl-C, computed results are still written.
    """
    def decoded() -> Iterator[Entry]:
        for item in items:
            try:
                yield item, read(item), None
            except Exception as exc:  # noqa: BLE001 - one file's failure is not the batch's
                yield item, None, exc

    def computed(entry: Entry) -> Entry:
        item, data, error = entry
        if error is not None:
            on_failure(item, "read", error)
            return item, None, error
        try:
            return item, compute(item, data), None
        except Exception as exc:  # noqa: BLE001
            on_failure(item, "compute", exc)
            return item, None, exc

    def written(entry: Entry) -> None:
        item, result, error = entry
        if error is None:
            try:
                write(item, result)
            except Exception as exc:  # noqa: BLE001
                on_failure(item, "write", exc)

    if depth <= 0:
        for entry in decoded():
            written(computed(entry))
        return
    run_stages(decoded(), computed, written, depth=depth, name="batch",
               drain_on_interrupt=True)
