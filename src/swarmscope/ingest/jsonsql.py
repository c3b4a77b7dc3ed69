"""SQL over JSON records, shared by the JSON readers (Twitter, Reddit, YouTube, CrowdTangle,
TikTok)."""

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


#: The account id of a post whose author the input does not give (a ``[deleted]`` Reddit
#: author, a YouTube comment without a channel, a TikTok comment): ``unknown:`` + the post id,
#: so that each such post has an author of its own and unknown authors never merge into one.
UNKNOWN = "unknown:"


def unknown_author(post_id: str) -> str:
    """SQL: the account id of an unknown author of the post ``post_id`` (see :data:`UNKNOWN`)."""
    return f"'{UNKNOWN}' || {post_id}"


def unnest_json(relation: str, items: str, fallback: str = "json") -> str:
    """SQL: one row per element of the JSON list ``items`` (an expression over ``relation``,
    which has ``_row, _line, json``), the element as ``json`` and its record as ``parent``,
    renumbered in order (``_row``). A record whose list is empty or missing stays one row, with
    ``fallback`` (by default the record itself) as ``json``: it is counted, and a check says
    why nothing of it is stored."""
    return f"""(
      SELECT row_number() OVER (ORDER BY _row, _i) AS _row, _line, parent, _item AS json FROM (
        SELECT _row, _line, json AS parent, unnest(_items) AS _item,
               generate_subscripts(_items, 1) AS _i
        FROM (SELECT *, CASE WHEN len({items}) > 0 THEN {items}
                             ELSE [CAST({fallback} AS JSON)] END AS _items FROM {relation})))"""
