"""Progress over tiles: ``True`` (a rich bar on stderr, for one tile too: on a CPU it can
take a minute), a callable taking ``(done, total)``, or ``False``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from rich import progress as bars
from rich.console import Console

Progress = bool | Callable[[int, int], None]


def counting_bar(*middle, console, transient: bool = False, disable: bool = False, tail=()):
    """The one look of every bar (tiles, frames, files), ``middle`` and ``tail`` varying."""
    return bars.Progress(
        bars.TextColumn("[progress.description]{task.description}"), bars.BarColumn(),
        bars.MofNCompleteColumn(), *middle, bars.TimeElapsedColumn(), bars.TextColumn("ETA"),
        bars.TimeRemainingColumn(), *tail, console=console, transient=transient, disable=disable)


class TileProgress(AbstractContextManager):
    """Counts finished tiles against a total that can grow (after an out-of-memory split)."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.callback = progress if callable(progress) else None
        self.done = 0
        self.bar = None
        if progress is True and total >= 1:
            console = Console(stderr=True)
            # A bar that vanishes when done has nothing to say in a log, only an empty line.
            self.bar = counting_bar(bars.TextColumn("tiles"), console=console, transient=True,
                                    disable=not console.is_terminal)
            self.task = self.bar.add_task("upscaling", total=total)

    def __enter__(self) -> TileProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def advance(self, remaining: int) -> None:
        """One more tile done; ``remaining`` tiles are still to do."""
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.done + remaining)
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, total=self.done + remaining)
