"""``fivethirtyeight-ira``: the FiveThirtyEight / Clemson IRA tweets (Linvill & Warren, "Troll
Factories"), as CSV (``publish_date`` like ``1/2/2017 14:43``) or Parquet.

The release carries no tweet ids (except an optional ``tweet_id`` column), so a post id is
derived: ``ira:`` + MD5 of the whole row + its occurrence number among identical rows. Every
input row is then its own post and re-ingesting the same file adds nothing. The account id is
``author_id`` when present, else the ``author`` handle (``external_author_id`` was rounded
through floating point upstream and is never used as an id). ``account_category`` and
``account_type`` become account labels; ``region`` is the reported location. Hashtags,
mentions and links are read from the text (and from ``article_url``/``tco*_step1`` if present).
"""

from swarmscope.ingest.normalize import (HASHTAG_PATTERN, MENTION_PATTERN, URL_PATTERN,
                                         text_list_sql, timestamp_sql)
from swarmscope.ingest.reader import Mapping, Reader

REQUIRED = ("author", "content", "publish_date")
LABELS = ("account_category", "account_type")
EXPANDED_URL_COLUMNS = ("article_url", "tco1_step1", "tco2_step1", "tco3_step1")


def mapping(columns: list[str], _: dict) -> Mapping:
    data_cols = [c for c in columns if c not in ("_row", "_line")]
    row_text = "concat_ws(chr(31), " + ", ".join(
        f"coalesce(CAST(\"{c}\" AS VARCHAR), '')" for c in data_cols) + ")"
    derived = ("'ira:' || md5(row_text) || ':' || "
               "row_number() OVER (PARTITION BY hash(row_text) ORDER BY _row)")
    post_id = (f"coalesce(nullif(CAST(tweet_id AS VARCHAR), ''), {derived})"
               if "tweet_id" in columns else derived)
    account = ("coalesce(nullif(CAST(author_id AS VARCHAR), ''), author)"
               if "author_id" in columns else "author")
    expanded = [c for c in EXPANDED_URL_COLUMNS if c in columns]
    urls = text_list_sql("content", URL_PATTERN, "http")
    if expanded:
        urls = f"list_concat({urls}, [{', '.join(expanded)}])"
    source = f"(SELECT *, {row_text} AS row_text FROM scratch.raw)"

    def column(name: str, expr: str) -> str:   # the optional columns
        return expr if name in columns else "NULL"

    return Mapping(
        source=f"(SELECT *, {post_id} AS derived_post_id FROM {source})",
        fields={
            "post_id": "derived_post_id",
            "account_id": account,
            "handle": "author",
            "created_at": timestamp_sql("publish_date"),
            "kind": "CASE upper(coalesce(" + column("post_type", "post_type") + ", '')) "
                    "WHEN 'R' THEN 'repost' WHEN 'RETWEET' THEN 'repost' WHEN 'Q' THEN 'quote' "
                    "WHEN 'QUOTE_TWEET' THEN 'quote' ELSE 'post' END",
            "text": "content",
            "lang": column("language", "language"),
            "followers": column("followers", "TRY_CAST(TRY_CAST(followers AS DOUBLE) AS BIGINT)"),
            "following": column("following", "TRY_CAST(TRY_CAST(following AS DOUBLE) AS BIGINT)"),
            "reported_location": column("region", "nullif(region, '')"),
        },
        entities={
            "hashtag": text_list_sql("content", HASHTAG_PATTERN, "#", "＃"),
            "mention": text_list_sql("content", MENTION_PATTERN, "@", "＠"),
            "url": f"list_filter({urls}, lambda x: x IS NOT NULL AND x <> '')",
        },
        labels={name: name for name in LABELS if name in columns},
        time_raw="publish_date", time_field="publish_date",
        time_hint="a date like 1/2/2017 14:43 or an ISO timestamp",
    )


READER = Reader(
    name="fivethirtyeight-ira", summary="FiveThirtyEight/Clemson IRA tweets (CSV or Parquet)",
    shape="csv-or-parquet", default_platform="twitter", mapping=mapping, required=REQUIRED,
    signature=("author", "content", "publish_date", "account_category"))
