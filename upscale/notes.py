"""Things a user should hear that are not errors: notes (ordinary warnings, which Python
callers can filter; the CLI prints each once) and long steps worth a status line."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator

StepReporter = Callable[[str], contextlib.AbstractContextManager[object]]

_step_reporter: StepReporter | None = None


class Note(UserWarning):
    """Something done differently from what was asked, or worth knowing; never an error."""


class Caution(Note):
    """A note about something that may be wrong: a warning, shown even when notes are silenced."""


def note(message: str) -> None:
    """Tell the user ``message`` (a :class:`Note` warning)."""
    warnings.warn(message, Note, stacklevel=2)


def report_long_steps(reporter: StepReporter | None) -> None:
    """Show each :func:`long_step` through ``reporter`` (None: show nothing)."""
    global _step_reporter
    _step_reporter = reporter


@contextlib.contextmanager
def long_step(message: str) -> Iterator[None]:
    """A step that may take many seconds: the user sees ``message`` while it runs."""
    if _step_reporter is None:
        yield
        return
    with _step_reporter(message):
        yield
