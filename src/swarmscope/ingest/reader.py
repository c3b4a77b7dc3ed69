"""What a format reader declares: how to recognise its files and how its raw records map onto
the canonical model, as SQL expressions over the staged ``raw`` table.

A reader never writes to the store; :mod:`swarmscope.ingest.merge` validates, de-duplicates and
stores what the expressions produce, the same way for every format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from swarmscope.ingest.sources import Dialect

#: Columns a reader may fill for each record (missing ones are NULL).
RECORD_FIELDS = (
    "post_id", "account_id", "created_at", "kind", "text", "lang", "client",
    "parent_post_id", "parent_account_id", "quoted_post_id", "latitude", "longitude",
    "handle", "display_name", "description", "account_created_at", "followers", "following",
    "reported_location", "deleted_at",
)
POST_KINDS = ("post", "repost", "reply", "quote", "like")
#: ``community``: where a post was made (a subreddit, a Facebook group or Page): stored for
#: queries, compared by no trace.
ENTITY_KINDS = ("hashtag", "url", "domain", "mention", "media", "object", "community")


@dataclass(frozen=True)
class Mapping:
    """SQL that maps the staged ``raw`` table to canonical records.

    Attributes
    ----------
    fields : dict
        Canonical field -> SQL expression over ``raw`` (see ``RECORD_FIELDS``).
    entities : dict
        Entity kind -> SQL expression giving a ``VARCHAR[]`` per record.
    labels : dict
        Account label name -> SQL expression (a string per record; NULL for none).
    source : str
        The relation the expressions read (default the staged table; a reader may wrap it).
    record_key : str
        What makes two records the same record (default: the post id).
    time_raw, time_field, time_hint : str
        The raw time value, its input field and the expected form, for reject messages.
    checks : list
        Extra ``(condition, field, reason)`` triples; a record meeting a condition is rejected.
    excerpt : str
        SQL giving a short human-readable form of a record for the rejects table.
    """

    fields: dict[str, str]
    entities: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    source: str = "scratch.raw"
    record_key: str | None = None
    time_raw: str = "NULL"
    time_field: str = "created_at"
    time_hint: str = "a timestamp"
    checks: list[tuple[str, str, str]] = field(default_factory=list)
    excerpt: str | None = None


@dataclass(frozen=True)
class Reader:
    """One input format.

    ``shape`` is how the file is staged: ``csv`` (delimited text with a header), ``json``,
    ``parquet``, ``csv-or-parquet`` or ``text`` (the reader stages it itself).
    ``signature`` lists the input columns (or JSON keys) that identify the format.
    ``posts`` is False for formats whose records are accounts only.
    ``dialect`` says how delimited text is read, from its header columns and delimiter.
    ``walk`` says where the records lie in a file that is one JSON document (see
    :mod:`swarmscope.ingest.jsondoc`); ``detect_head`` recognises such a file from its first
    64 KiB of text, as the document itself may be far longer than a record.
    """

    name: str
    summary: str
    shape: str
    default_platform: str
    mapping: Callable[..., Mapping]
    required: tuple[str, ...] = ()
    signature: tuple[str, ...] = ()
    posts: bool = True
    detect_json: Callable[[dict], bool] | None = None
    dialect: Callable[[list[str], str], Dialect] = lambda columns, delim: Dialect(
        tuple(columns), True, delim)
    stage: Callable[..., None] | None = None
    walk: tuple | None = None
    detect_head: Callable[[str], bool] | None = None


def column_sql(columns: list[str]) -> Callable[[str], str]:
    """For a reader of delimited text: the SQL of a column named in any case, trimmed and NULL
    when empty; NULL where the file lacks the column (exports leave columns out)."""
    by_name = {c.lower(): c for c in columns}

    def column(name: str) -> str:
        found = by_name.get(name.lower())
        return "NULL" if found is None else "nullif(trim(\"" + found.replace('"', '""') + "\"), '')"
    return column
