"""``bluesky``: Bluesky (AT Protocol) posts, reposts and likes.

Accepted layouts: Jetstream events, one per line (``{did, time_us, kind, commit: {operation,
collection, rkey, record}}``, as ``websocat wss://jetstream…/subscribe`` writes them), and XRPC
responses of the app view, one page per line or pretty-printed: feeds (``getAuthorFeed``,
``getTimeline``, ``getFeed``: ``{feed: [{post, reply, reason}]}``) and ``searchPosts``
(``{posts: [...]}``). Every post view is a post record; a feed item shown because someone
reposted it (``reason`` ``#reasonRepost``) is also a repost record of that post by ``reason.by``,
at ``reason.indexedAt`` (its id is the repost record's ``reason.uri`` where the app view gives
it, else the post's URI and ``#repost:`` the reposter's DID).

Posts are their AT URIs (``at://did/app.bsky.feed.post/rkey``), accounts their DIDs, handles
their handles (XRPC only: Jetstream does not carry them). The time is the record's
``createdAt`` (set by the client), else the event's ``time_us``. ``reply.parent`` makes a reply,
a record embed (``app.bsky.embed.record``, ``recordWithMedia``) a quote; ``app.bsky.feed.repost``
records are reposts and ``app.bsky.feed.like`` records likes (post kind ``like``, the ``like``
trace: never counted as posts), both of their ``subject``. Links are the ``#link`` facets and the
external embed, mentions the ``#mention`` facets' DIDs, hashtags the ``#tag`` facets and the
record's ``tags``, media the CIDs of embedded images and video (a content hash: one image
reposted anywhere has one CID). Events that are none of these (follows, blocks, profiles, other
lexicons, deletions, identity and account events) are rejected as such.
"""

from swarmscope.ingest.jsonsql import json_text as s
from swarmscope.ingest.normalize import timestamp_sql
from swarmscope.ingest.reader import Mapping, Reader

POST, REPOST, LIKE = "app.bsky.feed.post", "app.bsky.feed.repost", "app.bsky.feed.like"
TYPE = '"$type"'
IS_PAGE = ("(ifnull(json_type(json, '$.feed') = 'ARRAY', false) "
           "OR ifnull(json_type(json, '$.posts') = 'ARRAY', false))")

SOURCE = f"""(
  WITH pages AS (
    SELECT _row AS page_row, _line, json,
           {IS_PAGE} AS is_page,
           CASE WHEN json_type(json, '$.feed') = 'ARRAY' THEN json_extract(json, '$.feed[*]')
                ELSE list_transform(json_extract(json, '$.posts[*]'),
                                    lambda p: json_object('post', p)) END AS items
    FROM scratch.raw),
  items AS (
    SELECT page_row, _line, unnest(items) AS item, unnest(generate_series(1, len(items))) AS idx
    FROM pages WHERE is_page AND len(items) > 0),
  views AS (
    SELECT page_row, idx, 0 AS sub, _line, 'commit' AS event, 'create' AS op,
           '{POST}' AS col, json_extract_string(item, '$.post.uri') AS uri,
           json_extract(item, '$.post.author') AS author,
           json_extract(item, '$.post.record') AS rec,
           NULL::BIGINT AS time_us, json_extract(item, '$.post') AS json
    FROM items
    UNION ALL
    SELECT page_row, idx, 1, _line, 'commit', 'create', '{REPOST}',
           coalesce(json_extract_string(item, '$.reason.uri'),
                    json_extract_string(item, '$.post.uri') || '#repost:'
                    || json_extract_string(item, '$.reason.by.did')),
           json_extract(item, '$.reason.by'),
           json_object('createdAt', json_extract_string(item, '$.reason.indexedAt'),
                       'subject', json_object('uri', json_extract_string(item, '$.post.uri'))),
           NULL, json_extract(item, '$.reason')
    FROM items WHERE json_extract_string(item, '$.reason."$type"') LIKE '%#reasonRepost'),
  events AS (
    SELECT page_row, 0 AS idx, 0 AS sub, _line, json_extract_string(json, '$.kind') AS event,
           json_extract_string(json, '$.commit.operation') AS op,
           json_extract_string(json, '$.commit.collection') AS col,
           'at://' || json_extract_string(json, '$.did') || '/'
           || json_extract_string(json, '$.commit.collection') || '/'
           || json_extract_string(json, '$.commit.rkey') AS uri,
           json_object('did', json_extract_string(json, '$.did')) AS author,
           json_extract(json, '$.commit.record') AS rec,
           TRY_CAST(json_extract_string(json, '$.time_us') AS BIGINT) AS time_us, json
    FROM pages WHERE NOT is_page OR len(items) = 0)
  SELECT row_number() OVER (ORDER BY page_row, idx, sub) AS _row, * EXCLUDE (page_row, idx, sub)
  FROM (SELECT * FROM views UNION ALL SELECT * FROM events))"""


def _at_did(uri: str) -> str:
    """SQL: the DID an AT URI lives under (``at://did:plc:x/...`` -> ``did:plc:x``)."""
    return f"nullif(regexp_extract({uri}, '^at://([^/]+)', 1), '')"


def mapping(columns: list[str], _: dict) -> Mapping:
    embed = "json_extract(rec, '$.embed')"
    quoted = (f"coalesce({s(embed, 'record.record.uri')}, CASE WHEN {s(embed, TYPE)} "
              f"LIKE 'app.bsky.embed.record%' THEN {s(embed, 'record.uri')} END)")
    reply = s("rec", "reply.parent.uri")
    subject = s("rec", "subject.uri")
    parent = (f"CASE col WHEN '{POST}' THEN coalesce({reply}, {quoted}) "
              f"ELSE {subject} END")
    features = "json_extract(rec, '$.facets[*].features[*]')"

    def facets(kind: str, key: str) -> str:
        return (f"coalesce(list_transform(list_filter({features}, lambda f: "
                f"json_extract_string(f, '$.\"$type\"') = 'app.bsky.richtext.facet#{kind}'), "
                f"lambda f: json_extract_string(f, '$.{key}')), [])")

    def cids(blobs: str) -> str:     # the blobs' CIDs, new form (ref.$link) or legacy (cid)
        return (f"coalesce(list_transform({blobs}, lambda b: coalesce("
                "json_extract_string(b, '$.ref.\"$link\"'), json_extract_string(b, '$.cid'))), [])")

    what = (f"CASE WHEN col NOT IN ('{POST}', '{REPOST}', '{LIKE}') THEN 'a record of type ' "
            "|| col || ', not a post, repost or like: nothing to store' "
            "ELSE coalesce(op, 'no operation') || ' of a record of type ' || col || ': only "
            "created records are stored' END")
    return Mapping(
        source=SOURCE,
        fields={
            "post_id": "uri",
            "account_id": s("author", "did"),
            "created_at": f"coalesce({timestamp_sql(s('rec', 'createdAt'))}, "
                          "make_timestamp(time_us))",
            "kind": f"CASE col WHEN '{REPOST}' THEN 'repost' WHEN '{LIKE}' THEN 'like' "
                    f"ELSE CASE WHEN {reply} IS NOT NULL THEN 'reply' "
                    f"WHEN {quoted} IS NOT NULL THEN 'quote' ELSE 'post' END END",
            "text": s("rec", "text"),
            "lang": s("rec", "langs[0]"),
            "parent_post_id": parent,
            "parent_account_id": _at_did(parent),
            "quoted_post_id": f"CASE col WHEN '{POST}' THEN {quoted} END",
            "handle": s("author", "handle"),
            "display_name": s("author", "displayName"),
        },
        entities={
            "url": f"list_concat({facets('link', 'uri')}, list_filter([{s(embed, 'external.uri')}, "
                   f"{s(embed, 'media.external.uri')}], lambda u: u IS NOT NULL))",
            "mention": facets("mention", "did"),
            "hashtag": f"list_concat({facets('tag', 'tag')}, "
                       "coalesce(json_extract_string(rec, '$.tags[*]'), []))",
            "media": cids(f"list_concat(json_extract({embed}, '$.images[*].image'), "
                          f"json_extract({embed}, '$.media.images[*].image'), list_filter(["
                          f"json_extract({embed}, '$.video'), json_extract({embed}, "
                          "'$.media.video')], lambda b: b IS NOT NULL))"),
        },
        time_raw=f"coalesce({s('rec', 'createdAt')}, CAST(time_us AS VARCHAR))",
        time_field="createdAt", time_hint="ISO 8601 (createdAt) or time_us",
        checks=[("json_type(json) <> 'OBJECT'", "json", "'not a JSON object'"),
                (f"event IS NULL AND uri IS NULL AND {IS_PAGE}", "feed",
                 "'a page without posts: nothing to store'"),
                ("event <> 'commit'", "kind", "'a Jetstream ' || event || ' event (an "
                 "account''s handle or status), not a post: nothing to store'"),
                (f"event IS DISTINCT FROM 'commit' OR op IS DISTINCT FROM 'create' OR col NOT IN "
                 f"('{POST}', '{REPOST}', '{LIKE}')", "commit.collection", what),
                (f"{s('author', 'did')} IS NULL", "did", "'missing did: every record needs "
                 "its author''s DID'"),
                (f"col <> '{POST}' AND {subject} IS NULL", "subject",
                 "'a record of type ' || col || ' without the subject.uri of its post'")],
        excerpt="left(CAST(json AS VARCHAR), 200)",
    )


def _is_bluesky(obj: dict) -> bool:
    if isinstance(obj.get("did"), str) and "time_us" in obj and "kind" in obj:
        return True         # a Jetstream event
    items = obj.get("feed", obj.get("posts"))
    first = items[0] if isinstance(items, list) and items else None
    view = first.get("post", first) if isinstance(first, dict) else None
    return isinstance(view, dict) and str(view.get("uri", "")).startswith("at://")


READER = Reader(name="bluesky", summary="Bluesky Jetstream events and XRPC feed/search pages",
                shape="json", default_platform="bluesky", mapping=mapping,
                detect_json=_is_bluesky)
