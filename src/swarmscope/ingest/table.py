"""``table``: any CSV or Parquet table, mapped with ``--map FIELD=EXPR``.

EXPR is a column name or a DuckDB SQL expression over the input's columns. Fields: the
canonical post and account fields (``post_id, account_id, created_at, kind, text, lang, client,
parent_post_id, parent_account_id, quoted_post_id, handle, display_name, description,
account_created_at, followers, following, reported_location, deleted_at``), entity lists (``hashtags, urls,
domains, mentions, media, objects``: a list, or a string split on whitespace, commas, ``;`` or
``|``; with ``text`` mapped, the hashtags, mentions and URLs not mapped are read from the text)
and labels (``label.NAME``). ``account_id`` and ``created_at`` are required;
``created_at`` (and ``deleted_at``, when the input knows that a post was deleted, and
``account_created_at``) may be epoch seconds/milliseconds or any timestamp text; ``kind`` defaults to
``post``; without ``post_id`` each row is its own post with an id derived from its content.
Rows that share a post id are one post whose entities are the union of the rows'.

Example::

    swarmscope ingest posts.csv --format table --map post_id=id --map account_id=user \\
        --map created_at=time --map "kind=CASE post_type WHEN 'R' THEN 'repost' ELSE 'post' END" \\
        --map urls=link --map label.country=country
"""

from swarmscope.errors import SwarmscopeError
from swarmscope.ingest.normalize import (HASHTAG_PATTERN, MENTION_PATTERN, URL_PATTERN,
                                         text_list_sql, timestamp_sql)
from swarmscope.ingest.reader import RECORD_FIELDS, Mapping, Reader

ENTITY_FIELDS = {"hashtags": "hashtag", "urls": "url", "domains": "domain",
                 "mentions": "mention", "media": "media", "objects": "object"}
#: Entities read from the mapped text when no column is mapped for them (as for IRA tweets).
FROM_TEXT = {"hashtags": ("hashtag", HASHTAG_PATTERN, "#", "＃"),
             "mentions": ("mention", MENTION_PATTERN, "@", "＠"),
             "urls": ("url", URL_PATTERN, "http")}


def mapping(columns: list[str], maps: dict[str, str]) -> Mapping:
    unknown = [f for f in maps if f not in RECORD_FIELDS and f not in ENTITY_FIELDS
               and not f.startswith("label.")]
    if unknown:
        raise SwarmscopeError(
            f"--map: unknown field {', '.join(unknown)}; fields are {', '.join(RECORD_FIELDS)}, "
            f"{', '.join(ENTITY_FIELDS)} and label.NAME")
    missing = [f for f in ("account_id", "created_at") if f not in maps]
    if missing:
        raise SwarmscopeError(f"--format table needs --map for {', '.join(missing)} "
                              f"(input columns: {', '.join(c for c in columns if c[0] != '_')})")
    fields = {f: f"({e})" for f, e in maps.items() if f in RECORD_FIELDS}
    for f in ("created_at", "deleted_at", "account_created_at"):
        if f in maps:
            fields[f] = timestamp_sql(maps[f])
    fields.setdefault("kind", "'post'")
    source = "scratch.raw"
    if "post_id" not in maps:
        data = [c for c in columns if c not in ("_row", "_line")]
        row_text = "concat_ws(chr(31), " + ", ".join(
            f"coalesce(CAST(\"{c}\" AS VARCHAR), '')" for c in data) + ")"
        source = (f"(SELECT *, 'row:' || md5({row_text}) || ':' || row_number() OVER "
                  f"(PARTITION BY hash({row_text}) ORDER BY _row) AS _derived_id FROM scratch.raw)")
        fields["post_id"] = "_derived_id"
    entities = {kind: _as_list(maps[f]) for f, kind in ENTITY_FIELDS.items() if f in maps}
    if "text" in maps:   # what the text holds, where no column was mapped for it
        for field, (kind, pattern, *markers) in FROM_TEXT.items():
            if field not in maps:
                entities[kind] = text_list_sql(f"CAST(({maps['text']}) AS VARCHAR)", pattern,
                                               *markers)
    keys = " || chr(31) || ".join(
        [f"coalesce(CAST({fields['post_id']} AS VARCHAR), '')"]
        + [f"coalesce(array_to_string({e}, ' '), '')" for e in entities.values()])
    return Mapping(
        source=source, fields=fields, entities=entities,
        labels={f.removeprefix("label."): f"({e})" for f, e in maps.items()
                if f.startswith("label.")},
        record_key=keys, time_raw=f"({maps['created_at']})", time_hint="epoch seconds or a timestamp",
    )


def _as_list(expr: str) -> str:
    """An entity expression as a list: lists pass, text is split on separators."""
    return (f"CASE WHEN ({expr}) IS NULL THEN []::VARCHAR[] "
            f"WHEN typeof(({expr})) LIKE '%[]' THEN CAST(({expr}) AS VARCHAR[]) "
            f"ELSE regexp_split_to_array(trim(CAST(({expr}) AS VARCHAR)), '[\\s,;|]+') END")


READER = Reader(
    name="table", summary="any CSV/Parquet table mapped with --map FIELD=EXPR",
    shape="csv-or-parquet", default_platform="unknown", mapping=mapping)
