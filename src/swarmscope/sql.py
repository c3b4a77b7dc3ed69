"""Small helpers for writing SQL text."""


def literal(value: object) -> str:
    """A SQL string literal: ``it's`` -> ``'it''s'``."""
    return "'" + str(value).replace("'", "''") + "'"
