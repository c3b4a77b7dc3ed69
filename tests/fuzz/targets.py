"""Fuzz targets: each takes one input and asserts what the docs and docstrings promise.

The normalisers take a text: ``list_repr``, ``snowflake``, ``timestamp``, ``url``, ``domain``,
``hashtag``, ``text``. The readers (``reader_<format>``) take the bytes of an input file and
ingest it into a fresh store. ``tests/test_fuzz.py`` runs every target under hypothesis and
over its stored corpus (``corpus/<target>/``); ``bench/fuzz.py`` runs them under atheris,
coverage-guided. An input from a file of bytes is :func:`as_text` for the normalisers.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import duckdb

from swarmscope import Store, ingest
from swarmscope.errors import SwarmscopeError
from swarmscope.ingest.normalize import (FIRST_SNOWFLAKE_ID, SNOWFLAKE_EPOCH_MS, TRACKING_PARAMS,
                                         canonical_url, list_repr_sql, normalize_hashtag,
                                         parse_list_repr, register_functions,
                                         registered_domain, snowflake_ms_sql, timestamp_sql)
from swarmscope.traces import normalized_text_sql
from swarmscope.traces.similar_text import normalize as similar_text_normalize

CORPUS = Path(__file__).parent / "corpus"
#: Snowflake ids below this one (times before 2090) must be decoded.
DECODED_BELOW = (3_786_912_000_000 - SNOWFLAKE_EPOCH_MS) << 22


@lru_cache(maxsize=1)
def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    register_functions(con)
    return con


def _sql(expr: str, value: str):
    """The SQL expression over ``x`` evaluated for ``x = value``."""
    return _con().execute(f"SELECT {expr} FROM (SELECT ?::VARCHAR AS x)", [value]).fetchone()[0]


def as_text(data: bytes) -> str:
    """A fuzzer's bytes as the text a normaliser gets (DuckDB hands it valid UTF-8 only)."""
    return data.decode("utf-8", "replace")


# -- normalisers ----------------------------------------------------------------------------------
def list_repr(value: str) -> None:
    """``parse_list_repr``: a list of strings or None; ``list_repr_sql`` parses alike."""
    parsed = parse_list_repr(value)
    assert parsed is None or all(isinstance(x, str) for x in parsed), parsed
    assert _sql(list_repr_sql("x"), value) == parsed, (value, parsed)


def _snowflake_ms(n: int) -> int | None:
    return _sql(snowflake_ms_sql("x"), str(n))


def snowflake(value: str) -> None:
    """``snowflake_ms_sql``: NULL but for decimal ids from ``FIRST_SNOWFLAKE_ID`` on, the time
    ``(id >> 22) + epoch`` for those (at least up to 2090), monotone in the id."""
    ms = _sql(snowflake_ms_sql("x"), value)
    digits = value.strip(" ")
    if not (digits.isascii() and digits.isdigit()):
        assert ms is None or ms >= SNOWFLAKE_EPOCH_MS, (value, ms)
        return
    n = int(digits)
    if n < FIRST_SNOWFLAKE_ID or n >= 2**64:
        assert ms is None, (value, ms)
        return
    assert ms in ((n >> 22) + SNOWFLAKE_EPOCH_MS, None), (value, ms)
    assert ms is not None or n >= DECODED_BELOW, (value, "not decoded")
    if ms is not None and n > FIRST_SNOWFLAKE_ID:
        earlier = _snowflake_ms(n - 1)
        assert earlier is not None and earlier <= ms, (value, earlier, ms)


def timestamp(value: str) -> None:
    """``timestamp_sql``: a TIMESTAMP or NULL for any text, never an error."""
    t = _sql(timestamp_sql("x"), value)
    assert t is None or isinstance(t, datetime), (value, t)


def _variants(url: str) -> list[str]:
    """The same URL as written with other case, tracking parameters and a fragment."""
    scheme, host, path, query = re.fullmatch(r"([^:]*)://([^/?]*)([^?]*)\??(.*)", url).groups()
    tracked = "&".join(["utm_source=fuzz", *query.split("&"), f"{min(TRACKING_PARAMS)}=1"])
    return [f"{scheme.upper()}://{host.upper()}{path}{'?' * bool(query)}{query}",
            f"{scheme}://{host}{path}?{tracked}", f"{url}#fragment"]


def url(value: str) -> None:
    """``canonical_url``: idempotent; case of scheme and host, tracking parameters and the
    fragment do not change it."""
    c = canonical_url(value)
    if c is None:
        return
    assert canonical_url(c) == c, (value, c, canonical_url(c))
    if c.isascii() and "#" not in c:     # upper() of other scripts is no case change of a host
        for v in _variants(c):
            assert canonical_url(v) == c, (value, c, v, canonical_url(v))


def domain(value: str) -> None:
    """``registered_domain``: None or text for any host."""
    d = registered_domain(value)
    assert d is None or isinstance(d, str), (value, d)


def hashtag(value: str) -> None:
    """``normalize_hashtag``: idempotent, and a leading ``#`` changes nothing."""
    h = normalize_hashtag(value)
    assert normalize_hashtag(h) == h, (value, h, normalize_hashtag(h))
    assert normalize_hashtag("#" + h) == h, (value, h)


def text(value: str) -> None:
    """The exact-text key (``normalized_text_sql``): idempotent, whitespace collapsed and
    trimmed. The near-duplicate normalisation: no punctuation left, whitespace collapsed."""
    key = _sql(normalized_text_sql("x"), value)
    assert _sql(normalized_text_sql("x"), key) == key, (value, key)
    assert "  " not in key and key == key.strip(" "), (value, key)
    near = similar_text_normalize([value]).to_pylist()[0]
    assert "  " not in near and near == near.strip(), (value, near)


# -- readers --------------------------------------------------------------------------------------
#: What ``--format table`` maps in the reader target.
TABLE_MAP = {"post_id": "id", "account_id": "user", "created_at": "time", "text": "text",
             "urls": "links", "hashtags": "tags", "label.country": "country"}
#: A typical record of each delimited format: its columns and values (the corpus seeds
#: hold two of them; hypothesis varies them).
CSV_RECORDS = {
    "io-archive": {"tweetid": "1196946839479746560", "userid": "a1b2", "tweet_time":
                   "2019-11-20 00:00", "tweet_text": "RT @x: hi #Tag http://t.co/x",
                   "is_retweet": "true", "retweet_tweetid": "1196946839479746000",
                   "retweet_userid": "x", "in_reply_to_tweetid": "", "quoted_tweet_tweetid": "",
                   "hashtags": "['Tag', 'b']", "urls": "['http://www.X.com/a?utm_source=b&c=1']",
                   "user_mentions": "[12, 13]", "latitude": "absent", "longitude": "absent",
                   "follower_count": "10.0", "account_creation_date": "2019-01-01",
                   "user_screen_name": "user_1", "account_language": "ru"},
    "io-archive-users": {"userid": "a1b2", "user_display_name": "A", "user_screen_name": "a",
                         "user_reported_location": "absent", "user_profile_description": "bio",
                         "user_profile_url": "", "follower_count": "1.0",
                         "following_count": "2", "account_creation_date": "2019-01-01",
                         "account_language": "en"},
    "coortweet": {"object_id": "http://x.com/a", "account_id": "a1", "content_id": "c1",
                  "timestamp_share": "1600000000"},
    "cnt": {"message_id": "m1", "user_id": "u1", "username": "user", "repost_id": "m0",
            "reply_id": "", "message": "RT hi #a", "timestamp": "1600000000.5",
            "urls": "http://x.com/a https://WWW.y.org/?fbclid=1"},
    "fivethirtyeight-ira": {"author": "TEN_GOP", "content": "#MAGA @x https://t.co/y",
                            "publish_date": "1/2/2017 14:43", "post_type": "RETWEET",
                            "account_category": "RightTroll", "account_type": "Right",
                            "followers": "10", "following": "2", "region": "United States",
                            "language": "English"},
    "table": {"id": "p1", "user": "u1", "time": "2020-01-01T00:00:00Z", "text": "hi",
              "links": "http://x.com/a, http://y.com", "tags": "a;b", "country": "RU"},
    "crowdtangle": {"Page Name": "AJ+", "User Name": "ajplus", "Facebook Id": "100064529598989",
                    "Post Created": "2023-11-04 19:12:24 EDT", "Followers at Posting": "1.2E7",
                    "Message": "Tens of thousands #Gaza https://x.com/a",
                    "URL": "https://www.facebook.com/100064529598989/posts/723251456502501",
                    "Link": "https://www.y.org/?fbclid=1", "Page Category": "MEDIA"},
    "meta-content-library": {"id": "874512369854123", "creation_time": "2024-05-02T08:15:30+0000",
                             "text": "Read #this https://x.com/a", "post_owner.id": "100064",
                             "post_owner.username": "news", "post_owner.type": "page",
                             "surface.id": "553210", "surface.type": "group",
                             "link_attachment.link": "https://x.com/a?utm_source=fb"},
}
#: A typical record of each JSON format (hypothesis varies its leaves).
JSON_RECORDS = {
    "twitter-v1": {"id_str": "1196946839479746560", "created_at": "Wed Nov 20 00:00:00 +0000 2019",
                   "timestamp_ms": "1574208000000", "text": "hi #Tag", "lang": "en",
                   "source": "<a href=\"x\">Twitter Web App</a>",
                   "user": {"id_str": "7", "screen_name": "u", "created_at":
                            "Mon Jan 01 00:00:00 +0000 2018", "followers_count": 3},
                   "entities": {"hashtags": [{"text": "Tag"}], "urls": [{"expanded_url":
                                "http://www.x.com/?utm_medium=1"}],
                                "user_mentions": [{"id_str": "8"}]},
                   "retweeted_status": {"id_str": "1196946839479746000", "text": "hi",
                                        "user": {"id_str": "8"}}},
    "osome-hashed": {"id_str_h": "h1", "timestamp_ms": "1574208000000", "text_m": "hi",
                     "user": {"id_str_h": "u1", "screen_name_h": "s"},
                     "entities": {"hashtags": [{"text": "x"}], "urls": [],
                                  "user_mentions": [{"id_str_h": "u2"}]}},
    "twitter-v2": {"id": "1496699848595345410", "text": "@kyiv hi #Tag", "author_id": "28",
                   "created_at": "2022-02-24T04:13:45.000Z", "lang": "en",
                   "entities": {"hashtags": [{"tag": "Tag"}], "mentions": [{"username": "kyiv"}],
                                "urls": [{"expanded_url": "https://x.com/a"}]},
                   "referenced_tweets": [{"type": "replied_to", "id": "1496699039996469249"}]},
    "reddit": {"kind": "t1", "data": {"id": "kod0bkd", "author": "DubsAli", "body":
                                      "hi u/bob [x](https://x.com/a) &amp;", "created_utc": 1706745600.0,
                                      "subreddit": "woodworking", "link_id": "t3_1afjd7n",
                                      "parent_id": "t1_kod0abc", "author_created_utc": 1500000000}},
    "youtube": {"kind": "youtube#comment", "id": "UghpFKUJfaHCZHgCoAEC.8JEh4_ERo0a8JFaFXGFIQc",
                "snippet": {"videoId": "ibpMob4wgHs", "channelId": "UC5VgEt3Na1zZDJo-PBa86Rg",
                            "parentId": "UghpFKUJfaHCZHgCoAEC", "textDisplay": "a<br>b &amp; #c",
                            "authorDisplayName": "@someone",
                            "authorChannelId": {"value": "UC5VgEt3Na1zZDJo-PBa86Rg"},
                            "publishedAt": "2016-09-25T14:39:15Z"}},
    "crowdtangle-api": {"platformId": "11430503918_10159078346893919", "platform": "Facebook",
                        "date": "2020-10-29 14:56:05", "message": "Salió #Perfecta",
                        "expandedLinks": [{"original": "http://t.co/x", "expanded": "https://x.com/a"}],
                        "link": "https://www.facebook.com/luisfonsi/photos/1/",
                        "account": {"platformId": "11430503918", "handle": "luisfonsi",
                                    "name": "Luis Fonsi", "subscriberCount": 13231210,
                                    "pageAdminTopCountry": "US"}},
    "tiktok": {"id": 7316412875134323999, "create_time": 1703462400, "username": "newsdesk_ro",
               "region_code": "RO", "video_description": "Ce nu #alegeri @redactia_b",
               "music_id": 7316412812345678901, "hashtag_names": ["alegeri"],
               "video_mention_list": ["redactia_b"]},
    "bluesky": {"did": "did:plc:a", "time_us": 1783175888090631, "kind": "commit", "commit": {
        "operation": "create", "collection": "app.bsky.feed.post", "rkey": "3k",
        "record": {"createdAt": "2026-07-04T14:38:06.240Z", "text": "hi #x", "langs": ["en"],
                   "reply": {"parent": {"uri": "at://did:plc:b/app.bsky.feed.post/3j"}},
                   "facets": [{"features": [{"$type": "app.bsky.richtext.facet#tag",
                                             "tag": "x"}]}],
                   "embed": {"images": [{"image": {"ref": {"$link": "bafk"}}}]}}}},
    "mastodon": {"id": "109294767623508949", "created_at": "2022-11-06T03:36:44.808Z",
                 "in_reply_to_id": "109294719267373593", "in_reply_to_account_id": "1",
                 "language": "en", "content": "<p>hi <a href=\"https://x.org/a\">x</a> &amp;</p>",
                 "reblog": None, "application": {"name": "Web"},
                 "account": {"id": "1", "username": "a", "acct": "a",
                             "url": "https://mastodon.social/@a", "note": "<p>bio</p>"},
                 "mentions": [{"id": "2", "acct": "b@x.org", "username": "b"}],
                 "tags": [{"name": "x"}], "card": {"url": "https://y.org"}},
    "telegram-desktop": {"id": 3, "type": "message", "date": "2024-03-01T10:00:00",
                         "date_unixtime": "1709287200", "from": "A", "from_id": "user5",
                         "forwarded_from": "S", "forwarded_from_id": "channel9",
                         "reply_to_message_id": 2,
                         "text": ["hi ", {"type": "link", "text": "https://x.org"}],
                         "text_entities": [{"type": "plain", "text": "hi "},
                                           {"type": "link", "text": "https://x.org"}]},
    "tgdataset": {"message": "hi https://x.org #x", "date": 1637750294.0, "author": None,
                  "is_forwarded": True, "forwarded_from_id": 749891673,
                  "forwarded_message_date": 1637398793.0},
}
#: The formats whose file is one JSON document holding the records.
DOCUMENTS = {
    "telegram-desktop": lambda records: {"name": "N", "type": "public_channel", "id": 7,
                                         "messages": records},
    "tgdataset": lambda records: {"7": {"username": "u", "text_messages": dict(
        enumerate(records)), "generic_media": {}, "n_subscribers": 1}},
}
SNAP_RECORD = {"user_a": "1", "user_b": "2", "ts": "1341100972", "interaction": "RT"}
READERS = (*CSV_RECORDS, *JSON_RECORDS, "snap-higgs")


def file_bytes(fmt: str, records: list[dict]) -> bytes:
    """Records (dicts like the format's typical one) as the bytes of a file of ``fmt``."""
    if fmt in DOCUMENTS:
        return json.dumps(DOCUMENTS[fmt](records), ensure_ascii=False, indent=1).encode()
    if fmt in JSON_RECORDS:
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    if fmt == "snap-higgs":
        return "".join(" ".join(r.values()) + "\n" for r in records).encode()
    out = io.StringIO()
    w = csv.DictWriter(out, list(CSV_RECORDS[fmt]))    # CRLF: a CR or LF in a field is quoted
    w.writeheader()
    w.writerows(records)
    return out.getvalue().encode()


def read_file(fmt: str, data: bytes):
    """The bytes as a file of ``fmt`` through ``ingest`` into a fresh store: no error but a
    clear refusal; each file read = stored + duplicates + rejected, each rejected record a
    ``rejects`` row. Returns the ingest report (None where ingest refused with an error)."""
    suffix = ".jsonl" if fmt in JSON_RECORDS else ".txt" if fmt == "snap-higgs" else ".csv"
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"input{suffix}"
        path.write_bytes(data)
        with Store(Path(d) / "s.duckdb") as store:
            try:
                report = ingest(store, [path], format=fmt,
                                mappings=TABLE_MAP if fmt == "table" else None)
            except SwarmscopeError:
                return None
            for c in report.files:
                assert c.read == c.stored + c.duplicates + c.rejected, c
                rejects = store.con.execute("SELECT count(*) FROM rejects WHERE file = ?",
                                            [c.path]).fetchone()[0]
                assert rejects == c.rejected, (rejects, c)
    return report


def _reader(fmt: str) -> Callable[[bytes], None]:
    def target(data: bytes) -> None:
        read_file(fmt, data)
    target.__doc__ = f"The bytes as a {fmt} file through ingest (see :func:`read_file`)."
    return target


#: Every target by name; the normalisers take text, the readers bytes.
NORMALISERS: dict[str, Callable[[str], None]] = {
    "list_repr": list_repr, "snowflake": snowflake, "timestamp": timestamp, "url": url,
    "domain": domain, "hashtag": hashtag, "text": text}
TARGETS: dict[str, Callable] = {
    **NORMALISERS, **{f"reader_{fmt}": _reader(fmt) for fmt in READERS}}


def run_input(name: str, data: bytes) -> None:
    """One corpus input (bytes) through target ``name``."""
    TARGETS[name](as_text(data) if name in NORMALISERS else data)
