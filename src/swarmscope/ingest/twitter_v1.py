"""``twitter-v1`` and ``osome-hashed``: X/Twitter API v1.1 tweet objects.

Accepted layouts: one object per line, and concatenated (also pretty-printed) objects. A
retweet's text, entities and parent come from its nested ``retweeted_status`` (the retweet's own
text is truncated); ``extended_tweet.full_text`` and ``extended_tweet.entities`` are preferred
when present; ``source`` (the client) is stripped of its HTML. The time is ``timestamp_ms``,
else the snowflake id, else ``created_at``; a ``timestamp_ms`` out of range is rejected. Streaming
notices and API error responses kept among the tweets (``{"limit": …}``, ``{"errors": …}``) are
rejected as such. Ids are read exactly from ``id_str``, else from an integer ``id`` of any length;
an ``id`` written as a floating-point number is rejected (its last digits are lost).

``osome-hashed`` is the anonymised variant published by OSoMe (Pacheco et al., ICWSM 2021):
identifiers carry a ``_h`` suffix (``id_str_h``) and free text an ``_m`` suffix (``text_m``).
"""

from swarmscope.ingest.jsonsql import float_id_check, json_text as s
from swarmscope.ingest.normalize import snowflake_ms_sql, timestamp_sql
from swarmscope.ingest.reader import Mapping, Reader


#: Messages the v1.1 streaming API interleaves with tweets (and collectors often keep).
STREAM_NOTICES = ("delete", "limit", "scrub_geo", "status_withheld", "user_withheld",
                  "disconnect", "warning")
#: The largest ``timestamp_ms`` read (9999-12-31T23:59:59.999Z); a larger one is rejected.
MAX_TIMESTAMP_MS = 253_402_300_799_999


def _mapping(hashed: bool):
    def key(name: str, kind: str = "") -> str:
        if not hashed:
            return name
        return name + {"id": "_h", "text": "_m"}.get(kind, "")

    def mapping(columns: list[str], _: dict) -> Mapping:
        rs = "json_extract(json, '$.retweeted_status')"
        is_rt = f"({rs} IS NOT NULL AND json_type({rs}) = 'OBJECT')"
        tw = f"CASE WHEN {is_rt} THEN {rs} ELSE json END"
        ent = (f"coalesce(json_extract({tw}, '$.extended_tweet.entities'), "
               f"json_extract({tw}, '$.entities'))")
        xent = (f"coalesce(json_extract({tw}, '$.extended_tweet.extended_entities'), "
                f"json_extract({tw}, '$.extended_entities'))")
        reply_id = s("json", key("in_reply_to_status_id_str", "id"))
        quoted_id = (f"coalesce({s('json', key('quoted_status_id_str', 'id'))}, "
                     f"{s('json', 'quoted_status.' + key('id_str', 'id'))})")
        post_id = f"coalesce({s('json', key('id_str', 'id'))}, {s('json', key('id', 'id'))})"
        text_key = key("text", "text")
        text = (f"coalesce({s(tw, 'extended_tweet.' + key('full_text', 'text'))}, "
                f"{s(tw, key('full_text', 'text'))}, {s(tw, text_key)})")
        kind = (f"CASE WHEN {is_rt} THEN 'repost' WHEN {reply_id} IS NOT NULL THEN 'reply' "
                f"WHEN {quoted_id} IS NOT NULL THEN 'quote' ELSE 'post' END")
        ms = f"TRY_CAST({s('json', 'timestamp_ms')} AS BIGINT)"
        ms_ok = f"{ms} BETWEEN 0 AND {MAX_TIMESTAMP_MS}"
        created = (f"coalesce(CASE WHEN {ms_ok} THEN make_timestamp({ms} * 1000) END, "
                   f"make_timestamp(({snowflake_ms_sql(post_id)}) * 1000), "
                   f"{timestamp_sql(s('json', 'created_at'))})")
        user = "json_extract(json, '$.user')"
        uid = key("id_str", "id")
        coords = "json_extract(json, '$.coordinates.coordinates')"
        return Mapping(
            fields={
                "post_id": post_id,
                "account_id": f"coalesce({s(user, uid)}, {s(user, key('id', 'id'))})",
                "created_at": created,
                "kind": kind,
                "text": text,
                "lang": s("json", "lang"),
                "client": f"coalesce(nullif(regexp_extract({s('json', 'source')}, '>([^<]*)<', 1), "
                          f"''), {s('json', 'source')})",
                "parent_post_id": f"CASE WHEN {is_rt} THEN {s(rs, key('id_str', 'id'))} "
                                  f"WHEN {reply_id} IS NOT NULL THEN {reply_id} ELSE {quoted_id} END",
                "parent_account_id": f"CASE WHEN {is_rt} THEN {s(rs, 'user.' + uid)} "
                                     f"WHEN {reply_id} IS NOT NULL "
                                     f"THEN {s('json', key('in_reply_to_user_id_str', 'id'))} END",
                "quoted_post_id": quoted_id,
                "latitude": f"TRY_CAST(json_extract({coords}, '$[1]') AS DOUBLE)",
                "longitude": f"TRY_CAST(json_extract({coords}, '$[0]') AS DOUBLE)",
                "handle": s(user, key("screen_name", "id")),
                "display_name": s(user, key("name", "id")),
                "description": s(user, key("description", "text")),
                "account_created_at": timestamp_sql(s(user, "created_at")),
                "followers": f"TRY_CAST({s(user, 'followers_count')} AS BIGINT)",
                "following": f"TRY_CAST({s(user, 'friends_count')} AS BIGINT)",
                "reported_location": s(user, "location"),
            },
            entities={
                "hashtag": f"json_extract_string({ent}, '$.hashtags[*].text')",
                "url": f"list_transform(json_extract({ent}, '$.urls[*]'), lambda u: coalesce("
                       f"json_extract_string(u, '$.{key('expanded_url', 'id')}'), "
                       f"json_extract_string(u, '$.{key('url', 'id')}')))",
                "mention": f"json_extract_string({ent}, '$.user_mentions[*].{uid}')",
                "media": f"json_extract_string({xent}, '$.media[*].{key('media_url_https', 'id')}')",
            },
            time_raw=f"coalesce({s('json', 'timestamp_ms')}, {s('json', 'created_at')})",
            time_field="created_at", time_hint="timestamp_ms or a v1.1 created_at",
            checks=[("json_type(json) <> 'OBJECT'", "json", "'not a JSON object'"),
                    (f"{post_id} IS NULL AND {user} IS NULL AND "
                     f"list_has_any(json_keys(json), {list(STREAM_NOTICES)})", "json",
                     "'a streaming API ' || list_filter(json_keys(json), lambda k: "
                     f"list_contains({list(STREAM_NOTICES)}, k))[1] || "
                     "' notice, not a tweet: nothing to store'"),
                    (f"{post_id} IS NULL AND {user} IS NULL AND json_type(json, '$.errors') = "
                     "'ARRAY'", "errors",
                     "'an API error response, not a tweet: ' || coalesce(left(json_extract_string("
                     "json, '$.errors[0].message'), 200), '?') || '; nothing to store'"),
                    _unless(s("json", key("id_str", "id")),
                            float_id_check("json", key("id", "id"), "post id")),
                    _unless(s(user, uid), float_id_check("json", "user." + key("id", "id"),
                                                         "account id")),
                    (f"{s('json', 'timestamp_ms')} IS NOT NULL AND NOT coalesce({ms_ok}, false)",
                     "timestamp_ms",
                     f"'timestamp_ms out of range: ' || left({s('json', 'timestamp_ms')}, 40) || "
                     "', expected epoch milliseconds (a 13-digit number); fix the record and "
                     "ingest the file again'")],
            excerpt="left(json, 200)",
        )
    return mapping


def _unless(exact: str, check: tuple[str, str, str]) -> tuple[str, str, str]:
    """``check``, only where the exact form of the id (``id_str``) is missing."""
    return (f"{exact} IS NULL AND {check[0]}", *check[1:])


def _is_v1(obj: dict) -> bool:
    return isinstance(obj.get("user"), dict) and ("id_str" in obj or "id" in obj)


def _is_osome(obj: dict) -> bool:
    return isinstance(obj.get("user"), dict) and ("id_str_h" in obj or "id_h" in obj)


V1 = Reader(name="twitter-v1", summary="X/Twitter API v1.1 JSON (lines or concatenated)",
            shape="json", default_platform="twitter", mapping=_mapping(hashed=False),
            detect_json=_is_v1)
OSOME = Reader(name="osome-hashed", summary="OSoMe's hashed v1.1 JSON (keys suffixed _h/_m)",
               shape="json", default_platform="twitter", mapping=_mapping(hashed=True),
               detect_json=_is_osome)
