"""Traces: canonical posts -> (kind, account, object, post, ts) rows, one trace kind at a time.

A trace says "this account left this object at this time"; two accounts that leave the same
object close in time co-act. Accounts and objects are dictionary-encoded as integers: the
windowed self-join is several times faster on integers than on strings.

Trace kinds (`KINDS`):

- ``repost``: the reposted post; where the source post id is missing (the IRA release) the
  normalised text of the repost; where only the source account is known (SNAP Higgs) that
  account, marked ``account:``. Generic shared objects of share tables (CooRTweet's
  ``object_id``) are reposted objects too.
- ``fast_repost``: a repost within ``fast_repost_seconds`` of the original (its time decoded
  from the original's snowflake id, or the original post when stored); object = original author.
- ``link``, ``domain``, ``hashtag``, ``mention``, ``image``: the post's canonical URLs, their
  registered domains, hashtags, mentioned accounts, media/image hashes. Reposts are left out:
  what a repost contains was chosen by the original's author (co-repost covers it).
- ``hashtag_seq`` / ``hashtag_set``: a post's hashtags (at least ``min_hashtags``) in order /
  as a set.
- ``text``: the exact text of original posts, normalised (case, whitespace; @mentions and URLs
  stripped unless told otherwise); empty results are left out.
- ``reply``: the post replied to.
- ``sync``: the time bin (``sync_bin_seconds``) a post falls in: co-activity without content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from swarmscope.errors import NotBuiltError, SwarmscopeError
from swarmscope.ingest.normalize import snowflake_ms_sql

#: Each trace kind, in one line.
KIND_HELP = {
    "repost": "the reposted post (or its text, or its author, where that is all there is)",
    "fast_repost": "the original's author, for reposts within fast_repost_seconds",
    "link": "a canonical URL", "domain": "a URL's registered domain",
    "hashtag": "a hashtag", "hashtag_seq": "a post's hashtags in order",
    "hashtag_set": "a post's hashtags as a set", "text": "the exact normalised text",
    "similar_text": "a near-duplicate text cluster (not built yet)",
    "reply": "the post replied to", "mention": "a mentioned account",
    "image": "a media or image hash", "sync": "the time bin of the post",
}
KINDS = tuple(KIND_HELP)


@dataclass(frozen=True)
class TraceOptions:
    """How traces are derived; every field has a default with its reason.

    Attributes
    ----------
    fast_repost_seconds : float
        A repost this soon after the original is "fast" (60 s: faster than a person reading a
        timeline typically reposts; Pacheco et al. 2021 use 1 min co-retweet windows).
    min_hashtags : int
        Posts with at least this many hashtags give ``hashtag_seq``/``hashtag_set`` traces (2: a
        single hashtag is the ``hashtag`` trace).
    text_strip_mentions, text_strip_urls : bool
        Strip @mentions / URLs before comparing texts (True: per-recipient mentions and per-post
        short links hide copy-pasted text; coordination-network-toolkit strips mentions only).
    sync_bin_seconds : float
        The time bin of the ``sync`` trace (60 s: the minute resolution of several archives).
    """

    fast_repost_seconds: float = 60.0
    min_hashtags: int = 2
    text_strip_mentions: bool = True
    text_strip_urls: bool = True
    sync_bin_seconds: float = 60.0


def normalized_text_sql(col: str, *, strip_mentions: bool = True, strip_urls: bool = True) -> str:
    """SQL: a text lower-cased with collapsed whitespace, optionally without @mentions and URLs."""
    t = f"lower({col})"
    if strip_urls:
        t = f"regexp_replace({t}, 'https?://\\S*', '', 'g')"
    if strip_mentions:
        t = f"regexp_replace({t}, '@\\S*', '', 'g')"
    return f"trim(regexp_replace({t}, '\\s+', ' ', 'g'))"


def _repost_text_sql(col: str) -> str:
    """SQL: the key of a repost known only by its text: normalised, ``RT @x:`` and quotes off."""
    t = f"regexp_replace(lower({col}), '^rt @\\S+:?\\s*', '')"
    t = f"regexp_replace({t}, '[\"“”‘’'']', '', 'g')"
    return f"trim(regexp_replace({t}, '\\s+', ' ', 'g'))"


def _raw_traces_sql(kind: str, o: TraceOptions, where: str) -> str:
    """SELECT platform, account_id, object (text), post (the post's rowid), ts (ms)."""
    base = (f"SELECT p.platform, p.account_id, {{obj}} AS object, p.rowid AS post, "
            f"epoch_ms(p.created_at) AS ts FROM posts p {{join}} WHERE {where} AND {{cond}}")

    def ent(kind_: str, originals_only: bool = True) -> str:
        cond = f"e.kind = '{kind_}'" + (" AND p.kind <> 'repost'" if originals_only else "")
        return base.format(obj="e.value", cond=cond, join=(
            "JOIN entities e ON e.platform = p.platform AND e.post_id = p.post_id"))

    if kind == "repost":
        # the text key is computed once per repost, and only where no source is known
        own = (f"SELECT platform, account_id, CASE WHEN parent_post_id IS NOT NULL THEN "
               f"parent_post_id WHEN parent_account_id IS NOT NULL THEN 'account:' || "
               f"parent_account_id WHEN tk <> '' THEN 'text:' || md5(tk) END AS object, post, ts "
               f"FROM (SELECT p.platform, p.account_id, p.parent_post_id, p.parent_account_id, "
               f"p.rowid AS post, epoch_ms(p.created_at) AS ts, CASE WHEN p.parent_post_id IS "
               f"NULL AND p.parent_account_id IS NULL THEN {_repost_text_sql('p.text')} END AS tk "
               f"FROM posts p WHERE {where} AND p.kind = 'repost')")
        return f"{own} UNION ALL {ent('object', originals_only=False)}"
    if kind == "fast_repost":
        parent_ms = f"coalesce(epoch_ms(src.created_at), {snowflake_ms_sql('p.parent_post_id')})"
        return base.format(
            obj="p.parent_account_id",
            join="LEFT JOIN posts src ON src.platform = p.platform "
                 "AND src.post_id = p.parent_post_id",
            cond=f"p.kind = 'repost' AND p.parent_account_id IS NOT NULL AND "
                 f"epoch_ms(p.created_at) - {parent_ms} BETWEEN 0 AND "
                 f"{int(o.fast_repost_seconds * 1000)}")
    if kind in ("link", "domain", "hashtag", "mention"):
        return ent({"link": "url"}.get(kind, kind))
    if kind == "image":
        return ent("media", originals_only=False)
    if kind in ("hashtag_seq", "hashtag_set"):
        agg = ("string_agg(e.value, ' ' ORDER BY e.position)" if kind == "hashtag_seq"
               else "string_agg(DISTINCT e.value, ' ' ORDER BY e.value)")
        return (f"SELECT p.platform, p.account_id, {agg} AS object, p.rowid AS post, "
                f"epoch_ms(any_value(p.created_at)) AS ts FROM posts p JOIN entities e "
                f"ON e.platform = p.platform AND e.post_id = p.post_id "
                f"WHERE {where} AND e.kind = 'hashtag' AND p.kind <> 'repost' "
                f"GROUP BY p.platform, p.account_id, p.rowid "
                f"HAVING count(*) >= {int(o.min_hashtags)}")
    if kind == "text":
        norm = normalized_text_sql("p.text", strip_mentions=o.text_strip_mentions,
                                   strip_urls=o.text_strip_urls)
        return base.format(join="", obj=norm, cond="p.kind <> 'repost'")  # '' dropped later
    if kind == "reply":
        return base.format(join="", obj="p.parent_post_id",
                           cond="p.kind = 'reply' AND p.parent_post_id IS NOT NULL")
    if kind == "sync":
        ms = int(o.sync_bin_seconds * 1000)
        return base.format(join="", cond="true",
                           obj=f"CAST(epoch_ms(p.created_at) // {ms} AS VARCHAR)")
    if kind == "similar_text":
        raise NotBuiltError("trace kind similar_text is not built yet (near-duplicate text)")
    raise SwarmscopeError(f"unknown trace kind {kind!r}: choose one of {', '.join(KINDS)}")


def build_traces(con: duckdb.DuckDBPyConnection, kind: str, options: TraceOptions = TraceOptions(),
                 since: datetime | None = None, until: datetime | None = None) -> int:
    """(Re)build the traces of one kind into the temporary tables ``traces`` and
    ``trace_objects`` of this connection; returns the count.

    Traces are derived data, rebuilt for each run (about a second per million actions), so
    they are never stale. ``account_keys`` (platform, account_id) -> integer key is kept in the
    store so that keys stay stable across runs; a trace's ``post`` is the post's ``rowid`` in
    ``posts`` (stable: posts are only ever appended).
    """
    where = "true"
    if since:
        where += f" AND p.created_at >= TIMESTAMP '{since:%Y-%m-%d %H:%M:%S.%f}'"
    if until:
        where += f" AND p.created_at < TIMESTAMP '{until:%Y-%m-%d %H:%M:%S.%f}'"
    raw = _raw_traces_sql(kind, options, where)
    con.execute("""
        CREATE TABLE IF NOT EXISTS account_keys (account_key INTEGER PRIMARY KEY,
                                                 platform VARCHAR, account_id VARCHAR);
        CREATE TEMP TABLE IF NOT EXISTS trace_objects (kind VARCHAR, object_key BIGINT,
                                                       value VARCHAR);
        CREATE TEMP TABLE IF NOT EXISTS traces (kind VARCHAR, account INTEGER, object BIGINT,
                                                post BIGINT, ts BIGINT);""")
    con.execute(f"CREATE OR REPLACE TEMP TABLE raw_traces AS {raw}")
    con.execute("DELETE FROM raw_traces WHERE object IS NULL OR object = ''")
    con.execute("""
        INSERT INTO account_keys
        SELECT (SELECT coalesce(max(account_key), 0) FROM account_keys)
               + row_number() OVER (ORDER BY platform, account_id), platform, account_id
        FROM (SELECT DISTINCT platform, account_id FROM raw_traces) r
        WHERE NOT EXISTS (SELECT 1 FROM account_keys k WHERE k.platform = r.platform
                          AND k.account_id = r.account_id)""")
    con.execute("DELETE FROM traces WHERE kind = ?", [kind])
    con.execute("DELETE FROM trace_objects WHERE kind = ?", [kind])
    con.execute("""
        INSERT INTO trace_objects SELECT ?, row_number() OVER (), object
        FROM (SELECT DISTINCT object FROM raw_traces)""", [kind])
    n = con.execute("""
        INSERT INTO traces
        SELECT ?, k.account_key, o.object_key, r.post, r.ts
        FROM raw_traces r
        JOIN account_keys k ON k.platform = r.platform AND k.account_id = r.account_id
        JOIN trace_objects o ON o.kind = ? AND o.value = r.object""", [kind, kind]).fetchone()[0]
    con.execute("DROP TABLE raw_traces")
    return n
