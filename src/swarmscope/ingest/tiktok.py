"""``tiktok``: the TikTok Research API's videos (``/v2/research/video/query/``) and comments
(``/v2/research/video/comment/list/``), from its public field documentation (no real response
was found to test on).

Accepted layouts: response pages (``{"data": {"videos" | "comments": […], "cursor", "has_more"},
"error": {…}}``, one per line or one pretty-printed page per file) and their items one per line.
Every video and comment is one record; a page without items is one record, rejected with the
API's error message.

A video is a post by ``username`` (the only author id the API gives), its text the
``video_description``; ``hashtag_names`` and the description's ``#tags`` are hashtags,
``video_mention_list`` and its ``@names`` mentions, its ``music_id`` a ``media`` entity
(``music:`` + the id: the same sound reused), ``region_code`` (where the creator registered) an
account label. A comment is a reply to its ``parent_comment_id`` (for a top-level comment the
API gives the video id there), else to its ``video_id``; the API names no comment author, so
each comment gets an unknown author of its own (``unknown:`` + its id).
"""

from swarmscope.ingest.jsonsql import float_id_check, json_text as s, unknown_author, unnest_json
from swarmscope.ingest.normalize import (HASHTAG_PATTERN, MENTION_PATTERN, URL_PATTERN,
                                         text_list_sql, timestamp_sql)
from swarmscope.ingest.reader import Mapping, Reader

SOURCE = unnest_json("scratch.raw", "CASE WHEN json_type(json, '$.data.videos') = 'ARRAY' "
                     "THEN json_extract(json, '$.data.videos[*]') "
                     "ELSE json_extract(json, '$.data.comments[*]') END")


def mapping(columns: list[str], _: dict) -> Mapping:
    page = "json_type(json, '$.data') = 'OBJECT' OR json_type(json, '$.error') = 'OBJECT'"
    # a page says what its items are; an item on its own line, by its fields
    comment = ("CASE WHEN json_type(parent, '$.data.videos') = 'ARRAY' THEN false "
               "WHEN json_type(parent, '$.data.comments') = 'ARRAY' THEN true "
               "ELSE json_exists(json, '$.parent_comment_id') OR json_exists(json, '$.text') "
               "AND NOT json_exists(json, '$.username') END")
    post_id = f"coalesce({s('json', 'id')}, {s('json', 'video_id')})"
    text = f"CASE WHEN {comment} THEN {s('json', 'text')} ELSE {s('json', 'video_description')} END"
    music = s("json", "music_id")
    return Mapping(
        source=SOURCE,
        fields={
            "post_id": f"CASE WHEN {comment} THEN {s('json', 'id')} ELSE {post_id} END",
            "account_id": f"CASE WHEN {comment} THEN {unknown_author(s('json', 'id'))} "
                          f"ELSE {s('json', 'username')} END",
            "handle": s("json", "username"),
            "created_at": timestamp_sql(s("json", "create_time")),
            "kind": f"CASE WHEN {comment} THEN 'reply' ELSE 'post' END",
            "text": text,
            "parent_post_id": f"CASE WHEN {comment} THEN coalesce({s('json', 'parent_comment_id')}, "
                              f"{s('json', 'video_id')}) END",
        },
        entities={
            "hashtag": f"list_concat(coalesce(json_extract_string(json, '$.hashtag_names[*]'), []), "
                       f"{text_list_sql(text, HASHTAG_PATTERN, '#', '＃')})",
            "mention": f"list_concat(coalesce(json_extract_string(json, '$.video_mention_list[*]'), "
                       f"[]), {text_list_sql(text, MENTION_PATTERN, '@', '＠')})",
            "url": text_list_sql(text, URL_PATTERN, "http"),
            "media": f"CASE WHEN {music} NOT IN ('', '0') THEN ['music:' || {music}] END",
        },
        labels={"region_code": f"CASE WHEN NOT {comment} THEN {s('json', 'region_code')} END"},
        time_raw=s("json", "create_time"), time_field="create_time",
        time_hint="epoch seconds (create_time)",
        checks=[(page, "data",
                 "CASE WHEN json_extract_string(json, '$.error.code') IS DISTINCT FROM 'ok' THEN "
                 "'API error ' || coalesce(json_extract_string(json, '$.error.code'), '?') || "
                 "', no videos or comments: ' || coalesce(left(nullif(json_extract_string(json, "
                 "'$.error.message'), ''), 200), 'no message') ELSE 'a response page without "
                 "videos or comments: nothing to store' END"),
                float_id_check("json", "id", "post id"),
                float_id_check("json", "video_id", "video id"),
                float_id_check("json", "parent_comment_id", "parent comment id")],
        excerpt=f"left(concat_ws(' ', {post_id}, {s('json', 'username')}, {text}), 200)",
    )


def _is_tiktok(obj: dict) -> bool:
    data = obj.get("data")
    if isinstance(data, dict) and isinstance(obj.get("error"), dict):
        return "videos" in data or "comments" in data or "log_id" in obj["error"]
    return "video_description" in obj or "hashtag_names" in obj or (
        "parent_comment_id" in obj and "video_id" in obj)


READER = Reader(name="tiktok", summary="TikTok Research API: video and comment pages",
                shape="json", default_platform="tiktok", mapping=mapping,
                detect_json=_is_tiktok)
