"""``twitter-v2``: X API v2 tweets, as written by twarc2.

Accepted layouts: response pages (one per line, ``{"data": [...], "includes": {...}}``: every
tweet in ``data`` is one record, its author and referenced tweets looked up in the page's
``includes``) and one tweet per line (``twarc2 flatten`` output, with ``author`` and the
referenced tweets embedded). A retweet's text and entities (media included) come from the
retweeted tweet when the input has it (the retweet's own text is truncated); a long tweet's
``note_tweet`` text and entities are preferred. Mentions are account ids: the API's where it gave
them, else the id of the page's ``includes.users`` entry with that username, else the username.
Media are ``attachments.media_keys``. The time is the snowflake id's millisecond when it lies in
``created_at``'s second, else ``created_at``. A page without tweets (only API errors, or an
empty result) counts as one record, rejected with the first error's title and detail.
"""

from swarmscope.ingest.jsonsql import float_id_check, json_text as s
from swarmscope.ingest.normalize import snowflake_ms_sql, timestamp_sql
from swarmscope.ingest.reader import Mapping, Reader

SOURCE = """(
  WITH pages AS (
    SELECT _row AS page_row, _line, json,
           CASE WHEN json_array_length(json, '$.data') > 0 THEN json_extract(json, '$.data[*]')
                WHEN json_type(json, '$.data') = 'OBJECT' THEN [json_extract(json, '$.data')]
                ELSE [json] END AS items
    FROM scratch.raw),
  tweets AS (
    SELECT page_row, _line, unnest(items) AS tw, unnest(generate_series(1, len(items))) AS idx
    FROM pages WHERE len(items) > 0),
  users AS (
    SELECT page_row, json_extract_string(u, '$.id') AS uid, any_value(u) AS u FROM (
      SELECT _row AS page_row, unnest(json_extract(json, '$.includes.users[*]')) AS u
      FROM scratch.raw) GROUP BY ALL),
  names AS (
    SELECT page_row, map_from_entries(list({'k': uname, 'v': uid})) AS umap FROM (
      SELECT page_row, lower(json_extract_string(u, '$.username')) AS uname, min(uid) AS uid
      FROM users WHERE json_extract_string(u, '$.username') IS NOT NULL GROUP BY ALL)
    GROUP BY page_row),
  inc AS (
    SELECT page_row, json_extract_string(t, '$.id') AS tid, any_value(t) AS t FROM (
      SELECT _row AS page_row, unnest(json_extract(json, '$.includes.tweets[*]')) AS t
      FROM scratch.raw) GROUP BY ALL),
  refs AS (
    SELECT t.*,
      list_filter(json_extract(tw, '$.referenced_tweets[*]'),
                  lambda r: json_extract_string(r, '$.type') = 'retweeted')[1] AS rt_ref,
      json_extract_string(list_filter(json_extract(tw, '$.referenced_tweets[*]'),
                  lambda r: json_extract_string(r, '$.type') = 'replied_to')[1], '$.id') AS reply_id,
      json_extract_string(list_filter(json_extract(tw, '$.referenced_tweets[*]'),
                  lambda r: json_extract_string(r, '$.type') = 'quoted')[1], '$.id') AS quoted_id
    FROM tweets t)
  SELECT row_number() OVER (ORDER BY r.page_row, r.idx) AS _row, r._line, r.tw AS json,
         coalesce(json_extract(r.tw, '$.author'), u.u) AS usr,
         json_extract_string(r.rt_ref, '$.id') AS rt_id,
         CASE WHEN json_extract_string(r.rt_ref, '$.text') IS NOT NULL THEN r.rt_ref
              ELSE i.t END AS rt, r.reply_id, r.quoted_id, n.umap
  FROM refs r
  LEFT JOIN names n ON n.page_row = r.page_row
  LEFT JOIN users u ON u.page_row = r.page_row AND u.uid = json_extract_string(r.tw, '$.author_id')
  LEFT JOIN inc i ON i.page_row = r.page_row AND i.tid = json_extract_string(r.rt_ref, '$.id'))"""


def mapping(columns: list[str], _: dict) -> Mapping:
    tw = "CASE WHEN rt IS NOT NULL THEN rt ELSE json END"
    # a long ("note") tweet's text and entities are in note_tweet; the top-level ones only
    # cover its first 280 characters
    ent = (f"coalesce(json_extract({tw}, '$.note_tweet.entities'), "
           f"json_extract({tw}, '$.entities'))")
    own_text = f"coalesce({s('json', 'note_tweet.text')}, {s('json', 'text')})"
    coords = "json_extract(json, '$.geo.coordinates.coordinates')"
    # created_at has second resolution; the snowflake id has the millisecond: use it when it
    # falls in that second (as io-archive does for its minute), else created_at
    iso = timestamp_sql(s("json", "created_at"))
    exact = f"make_timestamp(({snowflake_ms_sql(s('json', 'id'))}) * 1000)"
    created = (f"CASE WHEN {exact} IS NOT NULL AND ({iso} IS NULL OR date_trunc('second', "
               f"{exact}) = date_trunc('second', {iso})) THEN {exact} ELSE {iso} END")
    # a page without tweets is one record, so that it is counted and its reason said
    no_tweets = f"{s('json', 'id')} IS NULL AND coalesce(json_array_length(json, '$.data'), 0) = 0"
    return Mapping(
        source=SOURCE,
        fields={
            "post_id": s("json", "id"),
            "account_id": s("json", "author_id"),
            "created_at": created,
            "kind": "CASE WHEN rt_id IS NOT NULL THEN 'repost' WHEN reply_id IS NOT NULL "
                    "THEN 'reply' WHEN quoted_id IS NOT NULL THEN 'quote' ELSE 'post' END",
            "text": f"CASE WHEN rt IS NOT NULL THEN coalesce({s('rt', 'note_tweet.text')}, "
                    f"{s('rt', 'text')}, {own_text}) ELSE {own_text} END",
            "lang": s("json", "lang"),
            "client": s("json", "source"),
            "parent_post_id": "coalesce(rt_id, reply_id, quoted_id)",
            "parent_account_id": f"CASE WHEN rt_id IS NOT NULL THEN {s('rt', 'author_id')} "
                                 f"WHEN reply_id IS NOT NULL THEN {s('json', 'in_reply_to_user_id')} END",
            "quoted_post_id": "quoted_id",
            "latitude": f"TRY_CAST(json_extract({coords}, '$[1]') AS DOUBLE)",
            "longitude": f"TRY_CAST(json_extract({coords}, '$[0]') AS DOUBLE)",
            "handle": s("usr", "username"),
            "display_name": s("usr", "name"),
            "description": s("usr", "description"),
            "account_created_at": timestamp_sql(s("usr", "created_at")),
            "followers": f"TRY_CAST({s('usr', 'public_metrics.followers_count')} AS BIGINT)",
            "following": f"TRY_CAST({s('usr', 'public_metrics.following_count')} AS BIGINT)",
            "reported_location": s("usr", "location"),
        },
        entities={
            "hashtag": f"json_extract_string({ent}, '$.hashtags[*].tag')",
            "url": f"list_transform(json_extract({ent}, '$.urls[*]'), lambda u: coalesce("
                   "json_extract_string(u, '$.unwound_url'), json_extract_string(u, '$.expanded_url'),"
                   " json_extract_string(u, '$.url')))",
            "mention": f"list_transform(json_extract({ent}, '$.mentions[*]'), lambda m: "
                       "coalesce(json_extract_string(m, '$.id'), "
                       "umap[lower(json_extract_string(m, '$.username'))], "
                       "json_extract_string(m, '$.username')))",
            "media": f"coalesce(json_extract_string(coalesce(json_extract({tw}, "
                     "'$.attachments.media_keys'), json_extract(json, '$.attachments.media_keys')), "
                     "'$[*]'), []::VARCHAR[])",
        },
        time_raw=s("json", "created_at"), time_field="created_at", time_hint="ISO 8601",
        checks=[(f"{no_tweets} AND json_type(json, '$.errors') = 'ARRAY'", "errors",
                 "'a page of API errors only, no tweets: ' || coalesce(left(concat_ws(': ', "
                 "json_extract_string(json, '$.errors[0].title'), "
                 "json_extract_string(json, '$.errors[0].detail')), 200), '?') || "
                 "' (the first of ' || json_array_length(json, '$.errors') || '); nothing to "
                 "store: collect these tweets again if they matter'"),
                (f"{no_tweets} AND json_type(json, '$.meta') = 'OBJECT'", "data",
                 "'a response page without tweets: result_count ' || coalesce("
                 "json_extract_string(json, '$.meta.result_count'), '?') || ', nothing to store'"),
                float_id_check("json", "id", "post id"),
                float_id_check("json", "author_id", "account id")],
        excerpt="left(json, 200)",
    )


def _is_v2(obj: dict) -> bool:
    if "data" in obj and isinstance(obj["data"], list | dict):
        return True
    errors = obj.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict) and (
            "title" in errors[0] or "detail" in errors[0]):     # a page of errors only
        return True
    return "author_id" in obj and "id" in obj and "user" not in obj


V2 = Reader(name="twitter-v2", summary="X API v2 JSON (twarc2 pages or one tweet per line)",
            shape="json", default_platform="twitter", mapping=mapping, detect_json=_is_v2)
