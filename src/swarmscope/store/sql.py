"""Small helpers for writing SQL text."""

from __future__ import annotations

from datetime import datetime


def literal(value: object) -> str:
    """A SQL string literal: ``it's`` -> ``'it''s'``."""
    return "'" + str(value).replace("'", "''") + "'"


def shown_time(ts: str) -> str:
    """A TIMESTAMP expression as text to show: ``YYYY-MM-DD HH:MM:SS[.fff]``, with ``(BC)``
    after the date of a year before 1, which no Python datetime holds."""
    return f"CAST({ts} AS VARCHAR)"


def time_filter(since: datetime | None, until: datetime | None,
                column: str = "created_at") -> str:
    """A SQL condition: ``column`` within [since, until) (``true`` without bounds)."""
    where = "true"
    if since:
        where += f" AND {column} >= TIMESTAMP '{since:%Y-%m-%d %H:%M:%S.%f}'"
    if until:
        where += f" AND {column} < TIMESTAMP '{until:%Y-%m-%d %H:%M:%S.%f}'"
    return where
