"""The two consoles: results on stdout, messages and progress on stderr."""

from __future__ import annotations

import os

from rich.console import Console
from rich.markup import escape

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
