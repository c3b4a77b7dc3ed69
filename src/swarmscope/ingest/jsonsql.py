"""SQL over JSON records, shared by the JSON readers (``twitter-v1``, ``osome-hashed``,
``twitter-v2``)."""

from __future__ import annotations


def json_text(obj: str, path: str) -> str:
    """SQL: the value at ``$.path`` of a JSON expression as text, NULL when absent or empty."""
    return f"nullif(json_extract_string({obj}, '$.{path}'), '')"


def float_id_check(obj: str, path: str, what: str) -> tuple[str, str, str]:
    """A ``(condition, field, reason)`` check that rejects an id written as a floating-point
    number (``1.1971687506161336e+18``): ids beyond 2^53 lose their last digits so, and distinct
    posts would merge into one. Integers are read exactly, however long."""
    value = f"json_extract_string({obj}, '$.{path}')"
    return (f"json_type({obj}, '$.{path}') = 'DOUBLE' AND NOT regexp_full_match({value}, "
            "'-?[0-9]+')", path,
            f"'{what} written as a floating-point number: ' || left({value}, 40) || '; ids "
            "beyond 2^53 lose their last digits so, and distinct records would merge: export "
            "the ids as text (id_str) and ingest the file again'")
