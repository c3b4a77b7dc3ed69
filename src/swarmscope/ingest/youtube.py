"""``youtube`` and ``youtube-channels``: YouTube Data API v3 responses.

``youtube`` reads comments and videos: ``commentThreads.list`` (each thread's top-level
comment and the replies it carries), ``comments.list``, ``search.list`` (video results) and
``videos.list``, as response pages (one per line, or one pretty-printed page per file) or
as their items one per line. Every comment and video is one record.

A comment is a reply: a top-level comment to its video (the object commented on; the video's
channel is the parent account), a reply to its thread's top-level comment (``parentId``). Its
author is ``authorChannelId.value``; a comment without one gets an unknown author of its own
(``unknown:`` + the comment id). The text is ``textOriginal``, else ``textDisplay`` without its
HTML. A video is a post of its channel, its text the title; links and hashtags come from the
title and the description (a search result's description is shortened by the API), and a
video's ``tags`` count as hashtags. Search results for channels or playlists are rejected
(they are no posts).

``youtube-channels`` reads ``channels.list`` pages: accounts (handle from ``customUrl``,
subscribers as followers unless hidden, ``country`` as the reported location).
"""

from swarmscope.ingest.jsonsql import json_text as s, unknown_author, unnest_json
from swarmscope.ingest.normalize import (HASHTAG_PATTERN, URL_PATTERN, html_text_sql,
                                         text_list_sql, timestamp_sql)
from swarmscope.ingest.reader import Mapping, Reader
from swarmscope.store.sql import literal

#: One row per page item (a page's ``items``, or a record that is an item itself).
ITEMS = unnest_json("scratch.raw", "json_extract(json, '$.items[*]')")
#: One row per comment or video: a thread becomes its top-level comment and its replies.
SOURCE = unnest_json(ITEMS, "CASE WHEN json_extract_string(json, '$.kind') = "
                     "'youtube#commentThread' THEN list_prepend(json_extract(json, "
                     "'$.snippet.topLevelComment'), coalesce(json_extract(json, "
                     "'$.replies.comments[*]'), [])) END")

KIND = "json_extract_string(json, '$.kind')"
ITEM_KINDS = ("youtube#comment", "youtube#video", "youtube#searchResult")


def _no_item(kinds: tuple[str, ...], what: str) -> list[tuple[str, str, str]]:
    """Checks for records that hold no item of ``kinds`` to store: an empty page, an API
    error, another kind of item."""
    return [(f"{KIND} LIKE 'youtube#%ListResponse'", "items",
             "'a response page without items, nothing to store: totalResults ' || coalesce("
             "json_extract_string(json, '$.pageInfo.totalResults'), '?')"),
            ("json_type(json, '$.error') = 'OBJECT'", "error",
             "'API error ' || coalesce(json_extract_string(json, '$.error.code'), '?') || "
             "', nothing to store: ' || coalesce(left(json_extract_string(json, "
             "'$.error.message'), 200), 'no message')"),
            (f"{KIND} IS NULL OR {KIND} NOT IN ({', '.join(map(literal, kinds))})", "kind",
             f"'not a {what}, nothing to store: kind ' || coalesce({KIND}, 'missing')")]


def mapping(columns: list[str], _: dict) -> Mapping:
    comment = f"{KIND} = 'youtube#comment'"
    video_id = (f"CASE {KIND} WHEN 'youtube#video' THEN {s('json', 'id')} "
                f"WHEN 'youtube#searchResult' THEN {s('json', 'id.videoId')} END")
    post_id = f"CASE WHEN {comment} THEN {s('json', 'id')} ELSE {video_id} END"
    parent = f"coalesce({s('json', 'snippet.parentId')}, {s('json', 'snippet.videoId')})"
    author = s("json", "snippet.authorDisplayName")
    title = s("json", "snippet.title")
    words = (f"CASE WHEN {comment} THEN coalesce({s('json', 'snippet.textOriginal')}, "
             f"{html_text_sql(s('json', 'snippet.textDisplay'))}) "
             f"ELSE concat_ws(chr(10), {title}, {s('json', 'snippet.description')}) END")
    return Mapping(
        source=SOURCE,
        fields={
            "post_id": post_id,
            "account_id": f"CASE WHEN {comment} THEN coalesce({s('json', 'snippet.authorChannelId.value')}, "
                          f"{unknown_author(post_id)}) ELSE {s('json', 'snippet.channelId')} END",
            "created_at": timestamp_sql(s("json", "snippet.publishedAt")),
            "kind": f"CASE WHEN NOT {comment} OR {parent} IS NULL THEN 'post' ELSE 'reply' END",
            "text": f"CASE WHEN {comment} THEN {words} ELSE {title} END",
            "parent_post_id": f"CASE WHEN {comment} THEN {parent} END",
            "parent_account_id": f"CASE WHEN {comment} AND {s('json', 'snippet.parentId')} IS NULL "
                                 f"AND {s('json', 'snippet.videoId')} IS NOT NULL "
                                 f"THEN {s('json', 'snippet.channelId')} END",
            "handle": f"CASE WHEN starts_with({author}, '@') THEN ltrim({author}, '@') END",
            "display_name": f"coalesce({author}, {s('json', 'snippet.channelTitle')})",
        },
        entities={
            "url": text_list_sql(words, URL_PATTERN, "http"),
            "hashtag": f"list_concat({text_list_sql(words, HASHTAG_PATTERN, '#', '＃')}, "
                       "coalesce(json_extract_string(json, '$.snippet.tags[*]'), []))",
        },
        time_raw=s("json", "snippet.publishedAt"), time_field="snippet.publishedAt",
        time_hint="ISO 8601",
        checks=_no_item(ITEM_KINDS, "comment or video") + [
            (f"{KIND} = 'youtube#searchResult' AND {video_id} IS NULL", "id.kind",
             "'a search result that is no video, nothing to store (channels are read from "
             "channels.list pages, format youtube-channels): ' || "
             f"coalesce({s('json', 'id.kind')}, '?')")],
        excerpt=f"left(concat_ws(' ', {post_id}, {author}, {words}), 200)",
    )


def channels_mapping(columns: list[str], _: dict) -> Mapping:
    hidden = "json_extract_string(json, '$.statistics.hiddenSubscriberCount') = 'true'"
    return Mapping(
        source=ITEMS,
        fields={
            "account_id": f"CASE WHEN {KIND} = 'youtube#channel' THEN {s('json', 'id')} END",
            "handle": f"ltrim({s('json', 'snippet.customUrl')}, '@')",
            "display_name": s("json", "snippet.title"),
            "description": s("json", "snippet.description"),
            "account_created_at": timestamp_sql(s("json", "snippet.publishedAt")),
            "followers": f"CASE WHEN NOT coalesce({hidden}, false) THEN "
                         f"TRY_CAST({s('json', 'statistics.subscriberCount')} AS BIGINT) END",
            "reported_location": s("json", "snippet.country"),
        },
        checks=_no_item(("youtube#channel",), "channel"),
        excerpt=f"left(concat_ws(' ', {s('json', 'id')}, {s('json', 'snippet.title')}), 200)",
    )


POST_KINDS = ("youtube#commentThreadListResponse", "youtube#commentListResponse",
              "youtube#searchListResponse", "youtube#videoListResponse", "youtube#commentThread",
              "youtube#comment", "youtube#searchResult", "youtube#video")

READER = Reader(name="youtube", summary="YouTube Data API v3: comment threads, comments, "
                "search results and videos", shape="json", default_platform="youtube",
                mapping=mapping, detect_json=lambda obj: obj.get("kind") in POST_KINDS)
CHANNELS = Reader(name="youtube-channels", summary="YouTube Data API v3: channels.list pages "
                  "(accounts)", shape="json", default_platform="youtube",
                  mapping=channels_mapping, posts=False,
                  detect_json=lambda obj: obj.get("kind") in ("youtube#channelListResponse",
                                                               "youtube#channel"))
