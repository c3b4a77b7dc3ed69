"""``cnt``: the CSV of coordination-network-toolkit (Graham et al., QUT Digital Observatory).

Columns ``message_id, user_id, username, repost_id, reply_id, message, timestamp, urls``; the
header is optional (a file without it is read in that column order); ``urls`` holds
space-separated URLs; ``timestamp`` is epoch seconds (fractions allowed). A BOM and CRLF line
ends are tolerated.
"""

from swarmscope.ingest.normalize import clean_id_sql, timestamp_sql
from swarmscope.ingest.reader import Mapping, Reader
from swarmscope.ingest.sources import Dialect

COLUMNS = ["message_id", "user_id", "username", "repost_id", "reply_id", "message", "timestamp",
           "urls"]
#: The ids a post reposts or replies to (NULL when empty or white space only).
REPOST, REPLY = clean_id_sql("repost_id"), clean_id_sql("reply_id")


def _dialect(columns: list[str], delim: str) -> Dialect:
    if "message_id" in [c.lower() for c in columns]:
        return Dialect(tuple(columns), True, delim)
    return Dialect(tuple(COLUMNS), False, delim)


def mapping(columns: list[str], _: dict) -> Mapping:
    return Mapping(
        fields={
            "post_id": "message_id",
            "account_id": "user_id",
            "handle": "nullif(username, '')",
            "created_at": timestamp_sql("timestamp"),
            "kind": f"CASE WHEN {REPOST} IS NOT NULL THEN 'repost' "
                    f"WHEN {REPLY} IS NOT NULL THEN 'reply' ELSE 'post' END",
            "parent_post_id": f"coalesce({REPOST}, {REPLY})",
            "text": "message",
        },
        entities={"url": "regexp_split_to_array(trim(coalesce(urls, '')), '\\s+')"},
        time_raw="timestamp", time_field="timestamp", time_hint="epoch seconds",
    )


READER = Reader(
    name="cnt", summary="coordination-network-toolkit CSV (message_id, user_id, …, urls)",
    shape="csv", default_platform="twitter", mapping=mapping, required=(),
    signature=("message_id", "user_id", "repost_id", "reply_id", "timestamp"),
    dialect=_dialect)
