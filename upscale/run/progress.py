"""Progress over tiles: a rich bar on stderr, a caller's callback, or nothing.

``progress`` is ``False``, ``True`` (a bar, shown for a single tile too: on a CPU one
tile can take a minute, and the elapsed time shows the run is alive), or a callable
taking ``(done, total)``, called after every tile.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

Progress = bool | Callable[[int, int], None]


def counting_bar(*middle, console, transient: bool = False, disable: bool = False, tail=()):
    """The one look of every bar: what, bar, done/total, ``middle``, elapsed, ETA, ``tail``.

    Tiles, video frames and batch files all count items towards a total; only the
    unit and speed columns (``middle``) and any trailing detail (``tail``) differ.
    """
    return RichProgress(
        TextColumn("[progress.description]{task.description}"), BarColumn(),
        MofNCompleteColumn(), *middle, TimeElapsedColumn(), TextColumn("ETA"),
        TimeRemainingColumn(), *tail, console=console, transient=transient, disable=disable)


class TileProgress(AbstractContextManager):
    """Counts finished tiles against a total that can grow (after an out-of-memory split)."""

    def __init__(self, progress: Progress, total: int, description: str = "upscaling") -> None:
        self.callback = progress if callable(progress) else None
        self.total = total
        self.done = 0
        self.bar = None
        self.task = None
        if progress is True and total >= 1:
            console = Console(stderr=True)
            # A bar that vanishes when done has nothing to say in a log, only an empty line.
            self.bar = counting_bar(TextColumn("tiles"), console=console, transient=True,
                                    disable=not console.is_terminal)
            self.task = self.bar.add_task(description, total=total)

    def __enter__(self) -> TileProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def advance(self, remaining: int) -> None:
        """One more tile done; ``remaining`` tiles are still to do."""
        self.done += 1
        self.total = self.done + remaining
        if self.callback is not None:
            self.callback(self.done, self.total)
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, total=self.total)
