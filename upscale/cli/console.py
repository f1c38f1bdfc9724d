"""The two consoles: results on stdout, messages and progress on stderr."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator

from rich.console import Console
from rich.markup import escape

from ..notes import Caution, Note, report_long_steps

stdout = Console()
if not stdout.is_terminal and "COLUMNS" not in os.environ:
    stdout.width = 160  # piped tables: whole names and paths, not an 80-column squeeze
stderr = Console(stderr=True)


def print_error(message: str) -> None:
    """One line, plain, so scripts can grep it."""
    stderr.print(f"[bold red]upscale: error:[/bold red] {escape(message)}", highlight=False,
                 soft_wrap=True)


def print_note(message: str) -> None:
    stderr.print(f"[dim]upscale:[/dim] {escape(message)}", highlight=False, soft_wrap=True)


@contextlib.contextmanager
def notes_shown(quiet: bool = False) -> Iterator[None]:
    """Print the library's notes (once each) and long steps as ``upscale:`` lines."""

    seen: set[str] = set()
    previous_show = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if not issubclass(category, Note):
            previous_show(message, category, filename, lineno, file, line)
        elif str(message) not in seen and (issubclass(category, Caution) or not quiet):
            seen.add(str(message))
            print_note(f"warning: {message}" if issubclass(category, Caution) else str(message))

    @contextlib.contextmanager
    def long_step(message: str) -> Iterator[None]:
        print_note(f"{message}…")
        with stderr.status(message, spinner="dots") if stderr.is_terminal \
                else contextlib.nullcontext():
            yield

    with warnings.catch_warnings():
        warnings.simplefilter("always", Note)  # Caution too: shown once each, by show()
        warnings.showwarning = show
        report_long_steps(None if quiet else long_step)
        try:
            yield
        finally:
            report_long_steps(None)
