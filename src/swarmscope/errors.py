"""The errors a user can meet; each message says what went wrong and what to do."""

from __future__ import annotations


class SwarmscopeError(Exception):
    """A user-facing error: the CLI prints ``Error: <message>`` and exits 1, with no traceback."""


class StoreInUseError(SwarmscopeError):
    """Another process holds the store open for writing."""


class StoreVersionError(SwarmscopeError):
    """The store was written by an incompatible version of swarmscope."""


class UnusableInputError(SwarmscopeError):
    """An input file cannot be read at all (empty, wrong format, corrupt)."""

