"""``io-archive`` and ``io-archive-users``: Twitter's Information Operations archive releases
(transparency.twitter.com, 2018-2021): a tweets CSV (31 columns) and a users CSV (10 columns),
often split into numbered ``.csv``/``.csv.gz`` parts.

Columns are read by name, never by position. ``hashtags``, ``urls``, ``user_mentions`` and
``poll_choices`` are Python-repr lists (``['a', 'b']``), or unquoted (``[a, b]``) in the October
2018 releases; ``tweet_time`` has minute resolution, so the millisecond time is decoded from the
snowflake ``tweetid`` (ids from November 2010 on) when it falls in that minute; ids of accounts
with fewer than 5,000 followers are opaque hashes (SHA-256 hex in 2018, base64 later) and are
kept as text; ``absent`` means no geo; counts may be written as floats.
"""

from swarmscope.ingest.normalize import list_repr_sql, snowflake_time_sql, timestamp_sql
from swarmscope.ingest.reader import Mapping, Reader

TWEET_COLUMNS = (
    "tweetid", "userid", "user_display_name", "user_screen_name", "user_reported_location",
    "user_profile_description", "user_profile_url", "follower_count", "following_count",
    "account_creation_date", "account_language", "tweet_language", "tweet_text", "tweet_time",
    "tweet_client_name", "in_reply_to_userid", "in_reply_to_tweetid", "quoted_tweet_tweetid",
    "is_retweet", "retweet_userid", "retweet_tweetid", "latitude", "longitude", "quote_count",
    "reply_count", "like_count", "retweet_count", "hashtags", "urls", "user_mentions",
    "poll_choices")
USER_COLUMNS = (
    "userid", "user_display_name", "user_screen_name", "user_reported_location",
    "user_profile_description", "user_profile_url", "follower_count", "following_count",
    "account_creation_date", "account_language")
LIST_COLUMNS = {"hashtags": "hashtag", "urls": "url", "user_mentions": "mention"}


def _blank(col: str) -> str:
    return f"nullif(nullif(trim({col}), ''), 'absent')"


def _count(col: str) -> str:
    return f"TRY_CAST(TRY_CAST({col} AS DOUBLE) AS BIGINT)"


def _account_fields() -> dict[str, str]:
    return {
        "account_id": "trim(userid)",
        "handle": _blank("user_screen_name"),
        "display_name": "nullif(user_display_name, '')",
        "description": "nullif(user_profile_description, '')",
        "reported_location": _blank("user_reported_location"),
        "account_created_at": timestamp_sql("account_creation_date"),
        "followers": _count("follower_count"),
        "following": _count("following_count"),
    }


def _account_labels() -> dict[str, str]:
    return {"account_language": _blank("account_language"),
            "profile_url": _blank("user_profile_url")}


def tweets_mapping(columns: list[str], _: dict) -> Mapping:
    created = snowflake_time_sql("trim(tweetid)", timestamp_sql("tweet_time"), "minute")
    retweet = "lower(trim(coalesce(is_retweet, ''))) IN ('true', '1', 't', 'yes')"
    reply = f"{_blank('in_reply_to_tweetid')} IS NOT NULL"
    quote = f"{_blank('quoted_tweet_tweetid')} IS NOT NULL"
    kind = (f"CASE WHEN {retweet} THEN 'repost' WHEN {reply} THEN 'reply' "
            f"WHEN {quote} THEN 'quote' ELSE 'post' END")
    fields = {
        "post_id": "trim(tweetid)",
        "created_at": created,
        "kind": kind,
        "text": "tweet_text",
        "lang": _blank("tweet_language"),
        "client": _blank("tweet_client_name"),
        "parent_post_id": f"CASE WHEN {retweet} THEN {_blank('retweet_tweetid')} "
                          f"WHEN {reply} THEN {_blank('in_reply_to_tweetid')} "
                          f"WHEN {quote} THEN {_blank('quoted_tweet_tweetid')} END",
        "parent_account_id": f"CASE WHEN {retweet} THEN {_blank('retweet_userid')} "
                             f"WHEN {reply} THEN {_blank('in_reply_to_userid')} END",
        "quoted_post_id": _blank("quoted_tweet_tweetid"),
        "latitude": f"TRY_CAST({_blank('latitude')} AS DOUBLE)",
        "longitude": f"TRY_CAST({_blank('longitude')} AS DOUBLE)",
        **_account_fields(),
    }
    entities = {kind: list_repr_sql(col) for col, kind in LIST_COLUMNS.items() if col in columns}
    checks = [(f"({list_repr_sql(col)}) IS NULL", col, f"'not a list like [''a'', ''b'']: ' || left({col}, 60)")
              for col in LIST_COLUMNS if col in columns]
    for col in ("latitude", "longitude"):
        checks.append((f"{_blank(col)} IS NOT NULL AND TRY_CAST({_blank(col)} AS DOUBLE) IS NULL",
                       col, f"'not a number: ' || left({col}, 40)"))
    return Mapping(
        fields=fields, entities=entities, labels=_account_labels(),
        time_raw="tweet_time", time_field="tweet_time", time_hint="YYYY-MM-DD HH:MM (UTC)",
        checks=checks, excerpt="concat_ws(',', tweetid, userid, tweet_time, left(tweet_text, 80))",
    )


def users_mapping(columns: list[str], _: dict) -> Mapping:
    return Mapping(fields=_account_fields(), labels=_account_labels(),
                   excerpt="concat_ws(',', userid, user_screen_name)")


TWEETS = Reader(
    name="io-archive", summary="Twitter Information Operations archive, tweets CSV (31 columns)",
    shape="csv", default_platform="twitter", mapping=tweets_mapping,
    required=("tweetid", "userid", "tweet_time"), signature=("tweetid", "userid", "tweet_time"))
USERS = Reader(
    name="io-archive-users", summary="Twitter Information Operations archive, users CSV",
    shape="csv", default_platform="twitter", mapping=users_mapping, posts=False,
    required=("userid",), signature=("userid", "user_screen_name", "account_creation_date"))
