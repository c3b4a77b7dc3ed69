"""Traces: canonical posts -> (kind, account, object, post, ts) rows, one trace kind at a time.

A trace says "this account left this object at this time"; two accounts that leave the same
object close in time co-act. Accounts and objects are dictionary-encoded as integers (at
ingest, see the store's ``account_keys`` and ``object_keys``): the windowed self-join is
several times faster on integers than on strings, and traces need no string work.

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
- ``similar_text``: the near-duplicate cluster of an original post's text (its centre's
  normalised text): MinHash-LSH over character shingles with exact verification, see
  :mod:`swarmscope.traces.similar_text`; Jaccard ``similar_text_threshold``.
- ``reply``: the post replied to.
- ``sync``: the time bin (``sync_bin_seconds``) a post falls in: co-activity without content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from swarmscope.errors import SwarmscopeError
from swarmscope.params import BOOL, NON_NEGATIVE, POSITIVE, Interval, validate_dataclass
from swarmscope.store.backend import Backend
from swarmscope.ingest.normalize import snowflake_ms_sql
from swarmscope.store.sql import time_filter

#: Each trace kind, in one line.
KIND_HELP = {
    "repost": "the reposted post (or its text, or its author, where that is all there is)",
    "fast_repost": "the original's author, for reposts within fast_repost_seconds",
    "link": "a canonical URL", "domain": "a URL's registered domain",
    "hashtag": "a hashtag", "hashtag_seq": "a post's hashtags in order",
    "hashtag_set": "a post's hashtags as a set", "text": "the exact normalised text",
    "similar_text": "a near-duplicate text cluster (character-shingle Jaccard)",
    "reply": "the post replied to", "mention": "a mentioned account",
    "image": "a media or image hash", "sync": "the time bin of the post",
}
KINDS = tuple(KIND_HELP)

#: The temporary table of traces of every kind built so far (``kind`` an ENUM: a string per
#: trace would cost as much as the rest of the row to write).
TRACES_TABLE = ("CREATE TEMP TABLE IF NOT EXISTS traces (kind ENUM("
                + ", ".join(f"'{k}'" for k in KINDS)
                + "), account INTEGER, object BIGINT, post BIGINT, ts BIGINT)")
#: The objects of kinds derived here (their text) and how each kind was built.
TRACE_VALUES_TABLE = ("CREATE TEMP TABLE IF NOT EXISTS trace_values (kind VARCHAR, "
                      "object_key BIGINT, value VARCHAR)")
TRACE_KINDS_TABLE = ("CREATE TEMP TABLE IF NOT EXISTS trace_kinds (kind VARCHAR, "
                     "encoded BOOLEAN, one_per_post BOOLEAN)")
#: Every object's value by kind: the derived kinds' and, for encoded kinds, the store's.
TRACE_OBJECTS_VIEW = """CREATE OR REPLACE TEMP VIEW trace_objects AS
    SELECT kind, object_key, value FROM trace_values
    UNION ALL
    SELECT k.kind, o.object_key, o.value FROM trace_kinds k, object_keys o WHERE k.encoded"""


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
    similar_text_threshold : float
        Jaccard similarity of character 4-shingle sets from which two texts are near-duplicates
        (0.4: copies with 5-10 % of their characters changed stay above it, unrelated tweets of
        one language stay below 0.15; see ``SimilarityParams.threshold``).
    similar_text_semantic : float or None
        Also join paraphrases whose sentence embeddings have at least this cosine similarity
        (None: off; it needs ``pip install 'swarmscope[semantic]'`` and is far slower).
    """

    fast_repost_seconds: float = 60.0
    min_hashtags: int = 2
    text_strip_mentions: bool = True
    text_strip_urls: bool = True
    sync_bin_seconds: float = 60.0
    similar_text_threshold: float = 0.4
    similar_text_semantic: float | None = None

    CONSTRAINTS: ClassVar[dict[str, list]] = {
        "fast_repost_seconds": [NON_NEGATIVE], "min_hashtags": [Interval(1, None, integer=True)],
        "text_strip_mentions": [BOOL], "text_strip_urls": [BOOL],
        "sync_bin_seconds": [POSITIVE], "similar_text_threshold": [Interval(0, 1, "right")],
        "similar_text_semantic": [Interval(0, 1, "right"), None],
    }

    def __post_init__(self) -> None:
        validate_dataclass(self, "traces")


def normalized_text_sql(col: str, *, strip_mentions: bool = True, strip_urls: bool = True) -> str:
    """SQL: a text lower-cased with collapsed whitespace, optionally without @mentions and URLs."""
    t = f"lower({col})"
    if strip_urls:
        t = f"regexp_replace({t}, 'https?://\\S*', '', 'g')"
    if strip_mentions:
        t = f"regexp_replace({t}, '@\\S*', '', 'g')"
    return f"trim(regexp_replace({t}, '\\s+', ' ', 'g'))"


#: Kinds whose objects are keys in the store's ``object_keys`` (encoded at ingest): their traces
#: are a scan of integer columns. The others' objects are derived here, as text.
ENCODED = {"repost", "reply", "link", "domain", "hashtag", "mention", "image"}
#: Kinds that give a post at most one trace (``repost`` too, unless posts carry ``object``s).
ONE_PER_POST = {"reply", "fast_repost", "text", "similar_text", "sync", "hashtag_seq",
                "hashtag_set"}


def _raw_traces_sql(kind: str, o: TraceOptions, where: str) -> str:
    """SELECT account (key), object (key for ``ENCODED`` kinds, else text), post (the post's
    key), ts (ms)."""
    base = (f"SELECT p.account_key AS account, {{obj}} AS object, p.post_key AS post, "
            f"epoch_ms(p.created_at) AS ts FROM posts p {{join}} WHERE {where} AND {{cond}}")

    def ent(kind_: str, originals_only: bool = True) -> str:
        cond = f"e.kind = '{kind_}'" + (" AND p.kind <> 'repost'" if originals_only else "")
        return base.format(obj="e.value_key", cond=cond, join=(
            "JOIN entities e ON e.platform = p.platform AND e.post_id = p.post_id"))

    if kind in ("repost", "reply"):    # parent_key: the parent post, or its author, or its text
        own = base.format(obj="p.parent_key", join="",
                          cond=f"p.kind = '{kind}' AND p.parent_key IS NOT NULL")
        return f"{own} UNION ALL {ent('object', originals_only=False)}" if kind == "repost" else own
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
        return (f"SELECT any_value(p.account_key) AS account, {agg} AS object, p.post_key AS post, "
                f"epoch_ms(any_value(p.created_at)) AS ts FROM posts p JOIN entities e "
                f"ON e.platform = p.platform AND e.post_id = p.post_id "
                f"WHERE {where} AND e.kind = 'hashtag' AND p.kind <> 'repost' "
                f"GROUP BY p.post_key HAVING count(*) >= {int(o.min_hashtags)}")
    if kind == "text":
        norm = normalized_text_sql("p.text", strip_mentions=o.text_strip_mentions,
                                   strip_urls=o.text_strip_urls)
        return base.format(join="", obj=norm, cond="p.kind <> 'repost'")  # '' dropped later
    if kind == "sync":
        ms = int(o.sync_bin_seconds * 1000)
        return base.format(join="", cond="true",
                           obj=f"CAST(epoch_ms(p.created_at) // {ms} AS VARCHAR)")
    if kind == "similar_text":   # similar_text_objects: see build_traces
        return base.format(join="JOIN similar_text_objects s ON s.post = p.post_key",
                           obj="s.object", cond="true")
    raise SwarmscopeError(f"unknown trace kind {kind!r}: choose one of {', '.join(KINDS)}")


def build_traces(db: Backend, kind: str, options: TraceOptions = TraceOptions(),
                 since: datetime | None = None, until: datetime | None = None) -> int:
    """(Re)build the traces of one kind into the temporary table ``traces`` of this
    connection, their object values into the view ``trace_objects``; returns the count.

    Traces are derived data, rebuilt for each run, so they are never stale. Accounts are keys
    of the store's ``account_keys``; objects of ``ENCODED`` kinds are keys of its
    ``object_keys`` (both assigned at ingest, stable), the others' are numbered here. A
    trace's ``post`` is the post's ``post_key`` in ``posts``.
    ``trace_objects`` (kind, object_key, value) lists, for an ``ENCODED`` kind, every object
    of the store; join it on the keys. ``trace_kinds`` (kind, encoded, one_per_post) says how
    each kind was built.
    """
    where = time_filter(since, until, "p.created_at")
    if kind == "similar_text":
        # imported when used: pyarrow.compute costs a fifth of a second at start-up
        from swarmscope.traces.similar_text import (SimilarityParams,
                                                        build_similar_text_objects)
        build_similar_text_objects(
            db, f"SELECT p.post_key AS post, p.text, epoch_ms(p.created_at) AS ts FROM posts p "
                 f"WHERE {where} AND p.kind <> 'repost'",
            SimilarityParams(threshold=options.similar_text_threshold,
                             semantic=options.similar_text_semantic))
    raw = _raw_traces_sql(kind, options, where)
    for sql in (TRACES_TABLE, TRACE_VALUES_TABLE, TRACE_KINDS_TABLE, TRACE_OBJECTS_VIEW):
        db.execute(sql)
    for table in ("traces", "trace_values", "trace_kinds"):
        db.execute(f"DELETE FROM {table} WHERE kind = ?", [kind])
    one_per_post = kind in ONE_PER_POST or kind == "repost" and not db.scalar(
        "SELECT count(*) FROM entities WHERE kind = 'object'")
    db.execute("INSERT INTO trace_kinds VALUES (?, ?, ?)", [kind, kind in ENCODED, one_per_post])
    with db.step(f"traces.{kind}"):
        if kind in ENCODED:
            db.execute(f"INSERT INTO traces SELECT ?, * FROM ({raw})", [kind])
        else:
            # materialised: pushed into the filter, the object's expression (regular
            # expressions for text) would be evaluated once per condition and again for output
            db.materialise("raw_traces", f"WITH raw AS MATERIALIZED ({raw}) SELECT * FROM raw "
                                         "WHERE object IS NOT NULL AND object <> ''")
            db.execute("""
                INSERT INTO trace_values SELECT ?, row_number() OVER (ORDER BY object), object
                FROM (SELECT DISTINCT object FROM raw_traces)""", [kind])
            db.execute("""
                INSERT INTO traces SELECT ?, r.account, o.object_key, r.post, r.ts
                FROM raw_traces r JOIN trace_values o ON o.kind = ? AND o.value = r.object""",
                       [kind, kind])
            db.drop("raw_traces", "similar_text_objects")
    return db.scalar("SELECT count(*) FROM traces WHERE kind = ?", [kind])
