"""``reddit``: Reddit comments and submissions, from the Pushshift / Arctic Shift dumps and from
the Reddit API.

Accepted layouts: dump lines (``RC_``/``RS_`` files, one bare comment or submission object per
line, the fields of every era from 2005 on), API things (``{"kind": "t1", "data": {…}}``),
listings (``{"kind": "Listing", …}``, also the ``[submission, comments]`` pair of
``/comments/ID``, whose reply trees are walked to any depth) and ``/api/morechildren``
responses. Every comment and submission is one record.

Post ids are fullnames (``t1_`` + id for a comment, ``t3_`` + id for a submission), the form of
``parent_id`` and ``link_id``: a comment is a reply to its ``parent_id`` (the comment above it,
or for a top-level comment the submission); a crosspost is a repost of its
``crosspost_parent``. Accounts are usernames (``author``: every era has it, unlike
``author_fullname``). An author ``[deleted]`` is unknown: the post gets an account of its own
(``unknown:`` + its id), so deleted authors never merge into one; a ``[deleted]`` or
``[removed]`` body or self text is no text. The subreddit is a ``community`` entity
(``r/name``, lower-cased); links are the submission's ``url`` (not a self post's own page) and
those in the text; ``u/name`` in a text is a mention. Texts and links have Reddit's HTML
escapes (``&amp;``, ``&lt;``, ``&gt;``, written by the API unless asked for ``raw_json``) undone.
A ``more`` stub (comments the listing left out) is rejected, naming how many it stands for.
"""

from swarmscope.ingest.jsonsql import json_text as s, unknown_author
from swarmscope.ingest.normalize import text_list_sql, timestamp_sql
from swarmscope.ingest.reader import Mapping, Reader

#: A thing's kind and data, for a list of things (``{"kind": …, "data": …}`` objects).
_THINGS = ("list_transform({}, lambda c: {{'kind': json_extract_string(c, '$.kind'), "
           "'d': json_extract(c, '$.data')}})")

SOURCE = f"""(
  WITH RECURSIVE tops AS (
    SELECT _row, _line, CASE
        WHEN json_extract_string(json, '$.kind') = 'Listing'
             AND json_array_length(json, '$.data.children') > 0
          THEN {_THINGS.format("json_extract(json, '$.data.children[*]')")}
        WHEN json_array_length(json, '$.json.data.things') > 0
          THEN {_THINGS.format("json_extract(json, '$.json.data.things[*]')")}
        WHEN json_type(json, '$.data') = 'OBJECT' AND json_exists(json, '$.kind')
          THEN [{{'kind': json_extract_string(json, '$.kind'), 'd': json_extract(json, '$.data')}}]
        WHEN json_exists(json, '$.id')
          THEN [{{'kind': CASE WHEN json_exists(json, '$.title') THEN 't3'
                              WHEN json_exists(json, '$.body') OR json_exists(json, '$.link_id')
                              THEN 't1' END, 'd': CAST(json AS JSON)}}]
        ELSE [{{'kind': NULL, 'd': CAST(json AS JSON)}}] END AS things
    FROM scratch.raw),
  tree AS (
    SELECT _row, _line, [_i] AS path, t FROM (
      SELECT _row, _line, unnest(things) AS t, generate_subscripts(things, 1) AS _i FROM tops)
    UNION ALL
    SELECT _row, _line, list_append(path, _i), t FROM (
      SELECT _row, _line, path, unnest(ch) AS t, generate_subscripts(ch, 1) AS _i FROM (
        SELECT _row, _line, path,
               {_THINGS.format("json_extract(t.d, '$.replies.data.children[*]')")} AS ch
        FROM tree WHERE json_type(t.d, '$.replies') = 'OBJECT')))
  SELECT row_number() OVER (ORDER BY _row, path) AS _row, _line, t.kind AS thing, t.d AS d
  FROM tree)"""

#: Authors and texts that stand for nothing: what Reddit shows once they are gone.
GONE = ("[deleted]", "[removed]")


def _unescape(expr: str) -> str:
    """SQL: a text without the HTML escapes Reddit's API writes (``&amp;`` last)."""
    return f"replace(replace(replace({expr}, '&lt;', '<'), '&gt;', '>'), '&amp;', '&')"


def _kept(expr: str) -> str:
    """SQL: a text, NULL where it is empty or only says it was deleted or removed."""
    return f"CASE WHEN trim({expr}) NOT IN ('', {', '.join(repr(g) for g in GONE)}) THEN {expr} END"


def mapping(columns: list[str], _: dict) -> Mapping:
    post_id = f"thing || '_' || {s('d', 'id')}"
    author = s("d", "author")
    known = f"{author} NOT IN {GONE}"
    body = _kept(_unescape(s("d", "body")))
    title = _unescape(s("d", "title"))
    selftext = _kept(_unescape(s("d", "selftext")))
    text = (f"CASE thing WHEN 't1' THEN {body} WHEN 't3' THEN concat_ws(chr(10) || chr(10), "
            f"{title}, {selftext}) END")
    crossposted = s("d", "crosspost_parent")
    source_author = s("d", "crosspost_parent_list[0].author")
    is_self = (f"coalesce(json_extract_string(d, '$.is_self') = 'true', false) OR "
               f"starts_with({s('d', 'domain')}, 'self.')")
    link = f"CASE WHEN thing = 't3' AND NOT ({is_self}) THEN {_unescape(s('d', 'url'))} END"
    return Mapping(
        source=SOURCE,
        fields={
            "post_id": post_id,
            "account_id": f"CASE WHEN {known} THEN {author} ELSE {unknown_author(post_id)} END",
            "handle": author,
            "created_at": timestamp_sql(s("d", "created_utc")),
            "kind": f"CASE thing WHEN 't1' THEN 'reply' WHEN 't3' THEN CASE WHEN {crossposted} "
                    "IS NOT NULL THEN 'repost' ELSE 'post' END END",
            "text": text,
            "parent_post_id": f"CASE thing WHEN 't1' THEN coalesce({s('d', 'parent_id')}, "
                              f"{s('d', 'link_id')}) WHEN 't3' THEN {crossposted} END",
            "parent_account_id": f"CASE WHEN {crossposted} IS NOT NULL THEN CASE WHEN "
                                 f"{source_author} NOT IN {GONE} THEN {source_author} ELSE "
                                 f"{unknown_author(crossposted)} END END",
            "account_created_at": f"CASE WHEN {known} THEN "
                                  f"{timestamp_sql(s('d', 'author_created_utc'))} END",
        },
        entities={
            "url": f"list_filter(list_prepend({link}, {text_list_sql(text, _LINK, 'http')}), "
                   "lambda u: u IS NOT NULL)",
            "mention": text_list_sql(text, _USER, "u/"),
            "community": f"[nullif('r/' || lower({s('d', 'subreddit')}), 'r/')]",
        },
        time_raw=s("d", "created_utc"), time_field="created_utc",
        time_hint="epoch seconds (created_utc)",
        checks=[("thing = 'more'", "kind",
                 "'a \"more\" stub, not a comment: it stands for ' || coalesce(json_extract_string("
                 "d, '$.count'), '?') || ' comments the listing left out; fetch them (PRAW: "
                 "submission.comments.replace_more(limit=None); the API: /api/morechildren) and "
                 "ingest them too'"),
                ("thing = 'Listing'", "data.children",
                 "'an empty listing: no comments or submissions, nothing to store'"),
                ("json_array_length(d, '$.json.errors') > 0", "json.errors",
                 "'API error ' || coalesce(json_extract_string(d, '$.json.errors[0][0]'), '?') || "
                 "', nothing to store: ' || coalesce(left(json_extract_string(d, "
                 "'$.json.errors[0][1]'), 200), 'no message')"),
                ("thing IS NULL OR thing NOT IN ('t1', 't3')", "kind",
                 "'not a comment or submission, nothing to store: kind ' || "
                 "coalesce(thing, 'missing')")],
        excerpt=f"left(concat_ws(' ', {post_id}, {author}, coalesce({s('d', 'body')}, {title})), 200)",
    )


#: A link in a comment or self text: markdown's brackets end it (``[x](https://…)``).
_LINK = r"(https?://[^\s<>\"'()\[\]]+)"
#: A user named in a text: ``u/name`` or ``/u/name`` (names are 3 to 20 of ``A-Za-z0-9_-``).
_USER = r"(?:^|[^\w/])/?u/([A-Za-z0-9_-]{3,20})"


def _is_reddit(obj: dict) -> bool:
    if obj.get("kind") in ("Listing", "t1", "t3", "more") and isinstance(obj.get("data"), dict):
        return True
    things = obj.get("json")
    if isinstance(things, dict) and isinstance(things.get("data"), dict):
        return "things" in things["data"]
    return "subreddit" in obj and "author" in obj and "id" in obj and (
        "body" in obj or "title" in obj)


READER = Reader(name="reddit", summary="Reddit: Pushshift/Arctic Shift dump lines, API listings",
                shape="json", default_platform="reddit", mapping=mapping, detect_json=_is_reddit)
