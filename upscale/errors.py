"""User-facing errors.

Anything raised as :class:`UpscaleError` is shown by the CLI as one line and a
non-zero exit, without a traceback (unless ``--debug``). Library code raises it
for every problem a user can fix: a bad input file, an unknown model, an
unsupported checkpoint layout.
"""

from __future__ import annotations


class UpscaleError(Exception):
    """A problem the user can act on; the message is the whole story."""


class UnsupportedModelError(UpscaleError):
    """The tensors do not match any architecture we know."""


class InputError(UpscaleError):
    """An input file is missing, unreadable or not what it claims to be."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, carrying one line on what the stopped run kept and how to carry on.

    A subclass of KeyboardInterrupt so that code between the raise and the CLI unwinds
    exactly as it would for a bare Ctrl-C.
    """
