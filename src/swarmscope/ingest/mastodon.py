"""``mastodon``: Mastodon REST API v1 statuses.

Accepted layouts: the responses of the endpoints that list statuses (``timelines/tag/:tag``,
``timelines/public``, ``accounts/:id/statuses``, ``search``'s statuses…), one page (a JSON array)
per file or one status per line, and ``statuses/:id/context`` (``{ancestors, descendants}``).

A reblog (``reblog`` holds the boosted status) is a repost of the boosted status, which is also
read as a record of its own; ``in_reply_to_id`` makes a reply. The HTML ``content`` is turned
into text (paragraphs and line breaks kept, tags dropped, entities decoded); links are the
content's links that are not mentions or hashtags, and the preview ``card``'s URL; hashtags are
``tags``, mentions the ``mentions``' accounts, media the attachments' original URLs, the client
``application.name``.

Accounts are ``user@instance`` (``acct``, completed with the host of the account's ``url`` for
the server's own accounts). Post ids are the server's status ids, as ``in_reply_to_id`` and
``reblog.id`` refer to them: one status has another id on every server, so a store should hold
the responses of one server (or one ``--platform`` per server).
"""

from swarmscope.ingest.jsonsql import float_id_check, json_text as s
from swarmscope.ingest.normalize import html_text_sql, timestamp_sql
from swarmscope.ingest.reader import Mapping, Reader

SOURCE = """(
  WITH pages AS (
    SELECT _row AS page_row, _line, json,
           json_type(json, '$.descendants') = 'ARRAY' OR json_type(json, '$.ancestors') = 'ARRAY'
             AS is_context,
           CASE WHEN is_context THEN list_concat(coalesce(json_extract(json, '$.ancestors[*]'),
                     []), coalesce(json_extract(json, '$.descendants[*]'), []))
                ELSE [json] END AS items
    FROM scratch.raw),
  statuses AS (
    SELECT page_row, _line, unnest(items) AS json, unnest(generate_series(1, len(items))) AS idx
    FROM pages WHERE len(items) > 0
    UNION ALL SELECT page_row, _line, json, 1 FROM pages WHERE len(items) = 0)
  SELECT row_number() OVER (ORDER BY page_row, idx, sub) AS _row, _line, json FROM (
    SELECT page_row, idx, 0 AS sub, _line, json FROM statuses
    UNION ALL
    SELECT page_row, idx, 1, _line, json_extract(json, '$.reblog') FROM statuses
    WHERE json_type(json, '$.reblog') = 'OBJECT'))"""


def account_sql(account: str) -> str:
    """SQL: ``user@instance`` of a Mastodon account (or mention) object."""
    return (f"CASE WHEN contains({s(account, 'acct')}, '@') THEN {s(account, 'acct')} "
            f"ELSE {s(account, 'username')} || '@' || "
            f"nullif(regexp_extract({s(account, 'url')}, '^https?://([^/]+)', 1), '') END")


def _text(html: str) -> str:
    """SQL: the text of Mastodon's HTML, NULL where empty."""
    return f"nullif(trim({html_text_sql(html)}), '')"


def mapping(columns: list[str], _: dict) -> Mapping:
    rb = "json_extract(json, '$.reblog')"
    is_rb = "ifnull(json_type(json, '$.reblog') = 'OBJECT', false)"
    reply = s("json", "in_reply_to_id")
    to = s("json", "in_reply_to_account_id")
    mentions = "json_extract(json, '$.mentions[*]')"
    own, rb_account = "json_extract(json, '$.account')", f"json_extract({rb}, '$.account')"
    replied = f"list_filter({mentions}, lambda m: json_extract_string(m, '$.id') = {to})[1]"
    anchors = "regexp_extract_all(json_extract_string(json, '$.content'), '<a\\s[^>]*>')"
    return Mapping(
        source=SOURCE,
        fields={
            "post_id": s("json", "id"),
            "account_id": account_sql(own),
            "created_at": timestamp_sql(s("json", "created_at")),
            "kind": f"CASE WHEN {is_rb} THEN 'repost' WHEN {reply} IS NOT NULL THEN 'reply' "
                    "ELSE 'post' END",
            "text": _text(f"json_extract_string(CASE WHEN {is_rb} THEN {rb} ELSE json "
                                  "END, '$.content')"),
            "lang": s("json", "language"),
            "client": s("json", "application.name"),
            "parent_post_id": f"CASE WHEN {is_rb} THEN {s(rb, 'id')} ELSE {reply} END",
            "parent_account_id": f"CASE WHEN {is_rb} THEN {account_sql(rb_account)} "
                                 f"WHEN {to} = {s('json', 'account.id')} THEN {account_sql(own)} "
                                 f"WHEN {to} IS NOT NULL THEN {account_sql(replied)} END",
            "handle": account_sql(own),
            "display_name": s("json", "account.display_name"),
            "description": _text(s("json", "account.note")),
            "account_created_at": timestamp_sql(s("json", "account.created_at")),
            "followers": f"TRY_CAST({s('json', 'account.followers_count')} AS BIGINT)",
            "following": f"TRY_CAST({s('json', 'account.following_count')} AS BIGINT)",
        },
        entities={
            "hashtag": "coalesce(json_extract_string(json, '$.tags[*].name'), [])",
            "mention": f"list_transform({mentions}, lambda m: {account_sql('m')})",
            "url": f"list_concat(list_transform(list_filter({anchors}, lambda a: NOT "
                   "regexp_matches(a, 'class=\"[^\"]*(mention|hashtag)')), lambda a: "
                   "regexp_extract(a, 'href=\"([^\"]*)\"', 1)), "
                   f"list_filter([{s('json', 'card.url')}], lambda u: u IS NOT NULL))",
            "media": "list_transform(json_extract(json, '$.media_attachments[*]'), lambda m: "
                     "coalesce(nullif(json_extract_string(m, '$.remote_url'), ''), "
                     "json_extract_string(m, '$.url')))",
        },
        time_raw=s("json", "created_at"), time_field="created_at", time_hint="ISO 8601",
        checks=[("json_type(json) <> 'OBJECT'", "json", "'not a JSON object'"),
                ("ifnull(json_type(json, '$.descendants') = 'ARRAY', false) OR "
                 "ifnull(json_type(json, '$.ancestors') = 'ARRAY', false)", "descendants",
                 "'a context without statuses: nothing to store'"),
                ("json_type(json, '$.account') IS DISTINCT FROM 'OBJECT'", "account",
                 "'a status without its account object'"),
                float_id_check("json", "id", "post id"),
                float_id_check("json", "in_reply_to_id", "parent post id")],
        excerpt="left(CAST(json AS VARCHAR), 200)",
    )


def _is_mastodon(obj: dict) -> bool:
    if isinstance(obj.get("ancestors"), list) and isinstance(obj.get("descendants"), list):
        return True
    account = obj.get("account")
    return isinstance(account, dict) and "acct" in account and "content" in obj


READER = Reader(name="mastodon", summary="Mastodon REST API v1 statuses (pages or context)",
                shape="json", default_platform="mastodon", mapping=mapping,
                detect_json=_is_mastodon)
