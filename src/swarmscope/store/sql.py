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


def column_list(columns: list[str], alias: str, *, replace: dict[str, str] | None = None,
                exclude: tuple[str, ...] = ()) -> str:
    """``alias.*`` written out, in order, with some columns replaced by expressions and some
    left out (DuckDB's ``* REPLACE``/``* EXCLUDE``, which Spark lacks)."""
    replace = replace or {}
    return ", ".join(f"{replace[c]} AS \"{c}\"" if c in replace else f'{alias}."{c}"'
                     for c in columns if c not in exclude)


def no_rows(**columns: str) -> str:
    """A query of no rows with these columns of these types (type names both engines know:
    ``STRING``, ``INTEGER``, ``BIGINT``, ``DOUBLE``, ``BOOLEAN``, ``TIMESTAMP``)."""
    return "SELECT " + ", ".join(f"CAST(NULL AS {t}) AS {c}" for c, t in columns.items()) + \
        " WHERE false"


def time_filter(since: datetime | None, until: datetime | None,
                column: str = "created_at") -> str:
    """A SQL condition: ``column`` within [since, until) (``true`` without bounds)."""
    where = "true"
    if since:
        where += f" AND {column} >= TIMESTAMP '{since:%Y-%m-%d %H:%M:%S.%f}'"
    if until:
        where += f" AND {column} < TIMESTAMP '{until:%Y-%m-%d %H:%M:%S.%f}'"
    return where
