"""User-facing errors: the CLI shows an :class:`UpscaleError` as one line and a non-zero
exit, without a traceback (unless ``--debug``)."""

from __future__ import annotations


class UpscaleError(Exception):
    """A problem the user can act on; the message is the whole story."""


class UnsupportedModelError(UpscaleError):
    """The tensors do not match any architecture we know."""


class InputError(UpscaleError):
    """An input file is missing, unreadable or not what it claims to be."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, carrying one line on what the stopped run kept and how to carry on (a
    KeyboardInterrupt, so that everything unwinds as for a bare Ctrl-C)."""
