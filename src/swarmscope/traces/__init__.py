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
- ``like``: the post liked (Bluesky's likes, stored as posts of kind ``like`` that no other
  trace kind counts).
- ``sync``: the time bin (``sync_bin_seconds``) a post falls in (likes left out): co-activity
  without content.

Across platforms: content (links, domains, hashtags, texts, images, time bins) is the same
object on every platform, so accounts on different platforms that push the same link co-act
(a fake news site pushed on Facebook and Twitter at once). What a repost, reply, like, fast repost
or mention points at is a post or an account *of its platform* (`PLATFORM_SCOPED`): in a store of
several platforms those objects are told apart by platform (Twitter post ``123`` is not
Telegram message ``123``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from swarmscope.errors import SwarmscopeError
from swarmscope.params import BOOL, NON_NEGATIVE, POSITIVE, Interval, validate_dataclass
from swarmscope.store.backend import Backend
from swarmscope.store.dialect import Dialect, DuckDBDialect
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
    "reply": "the post replied to", "like": "the post liked", "mention": "a mentioned account",
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


def normalized_text_sql(col: str, *, strip_mentions: bool = True, strip_urls: bool = True,
                        dialect: Dialect = DuckDBDialect()) -> str:
    """SQL: a text lower-cased with collapsed whitespace, optionally without @mentions and URLs."""
    t = f"lower({col})"
    if strip_urls:
        t = dialect.regexp_replace_all(t, "'https?://\\S*'", "''")
    if strip_mentions:
        t = dialect.regexp_replace_all(t, "'@\\S*'", "''")
    spaces = dialect.regexp_replace_all(t, "'\\s+'", "' '")
    return f"trim({spaces})"


#: Kinds whose objects are keys in the store's ``object_keys`` (encoded at ingest): their traces
#: are a scan of integer columns. The others' objects are derived here, as text.
ENCODED = {"repost", "reply", "like", "link", "domain", "hashtag", "mention", "image"}
#: Kinds that give a post at most one trace (``repost`` too, unless posts carry ``object``s).
ONE_PER_POST = {"reply", "like", "fast_repost", "text", "similar_text", "sync", "hashtag_seq",
                "hashtag_set"}
#: Kinds whose objects are posts or accounts of one platform, not content.
PLATFORM_SCOPED = {"repost", "reply", "like", "fast_repost", "mention"}


def _raw_traces_sql(kind: str, o: TraceOptions, where: str, d: Dialect,
                    scoped: bool = False) -> str:
    """SELECT account (key), object (key for ``ENCODED`` kinds, else text), post (the post's
    key), ts (ms); ``scoped``: objects as text, with the post's ``platform`` beside them."""
    ms = d.epoch_ms("p.created_at")
    scope = ", p.platform" if scoped else ""
    base = (f"SELECT p.account_key AS account, {{obj}} AS object, p.post_key AS post, "
            f"{ms} AS ts{scope} FROM posts p {{join}} WHERE {where} AND {{cond}}")

    def ent(kind_: str, originals_only: bool = True) -> str:
        cond = f"e.kind = '{kind_}'" + (" AND p.kind <> 'repost'" if originals_only else "")
        return base.format(obj="e.value" if scoped else "e.value_key", cond=cond, join=(
            "JOIN entities e ON e.platform = p.platform AND e.post_id = p.post_id"))

    if kind in ("repost", "reply", "like"):   # parent_key: the parent post, its author or text
        own = base.format(obj="k.value" if scoped else "p.parent_key",
                          join="JOIN object_keys k ON k.object_key = p.parent_key" if scoped
                          else "", cond=f"p.kind = '{kind}' AND p.parent_key IS NOT NULL")
        return f"{own} UNION ALL {ent('object', originals_only=False)}" if kind == "repost" else own
    if kind == "fast_repost":
        parent_ms = (f"coalesce({d.epoch_ms('src.created_at')}, "
                     f"{snowflake_ms_sql('p.parent_post_id')})")
        return base.format(
            obj="p.parent_account_id",
            join="LEFT JOIN posts src ON src.platform = p.platform "
                 "AND src.post_id = p.parent_post_id",
            cond=f"p.kind = 'repost' AND p.parent_account_id IS NOT NULL AND "
                 f"{ms} - {parent_ms} BETWEEN 0 AND "
                 f"{int(o.fast_repost_seconds * 1000)}")
    if kind in ("link", "domain", "hashtag", "mention"):
        return ent({"link": "url"}.get(kind, kind))
    if kind == "image":
        return ent("media", originals_only=False)
    if kind in ("hashtag_seq", "hashtag_set"):
        agg = (d.string_agg_ordered("e.value", "' '", "e.position") if kind == "hashtag_seq"
               else d.string_agg_ordered("e.value", "' '", "e.value", distinct=True))
        return (f"SELECT any_value(p.account_key) AS account, {agg} AS object, p.post_key AS post, "
                f"{d.epoch_ms('any_value(p.created_at)')} AS ts FROM posts p JOIN entities e "
                f"ON e.platform = p.platform AND e.post_id = p.post_id "
                f"WHERE {where} AND e.kind = 'hashtag' AND p.kind <> 'repost' "
                f"GROUP BY p.post_key HAVING count(*) >= {int(o.min_hashtags)}")
    if kind == "text":
        norm = normalized_text_sql("p.text", strip_mentions=o.text_strip_mentions,
                                   strip_urls=o.text_strip_urls, dialect=d)
        return base.format(join="", obj=norm, cond="p.kind <> 'repost'")  # '' dropped later
    if kind == "sync":
        bin_ms = int(o.sync_bin_seconds * 1000)
        return base.format(join="", cond="p.kind <> 'like'",
                           obj=f"CAST({d.int_div(ms, str(bin_ms))} AS STRING)")
    if kind == "similar_text":   # similar_text_objects: see build_traces
        return base.format(join="JOIN similar_text_objects s ON s.post = p.post_key",
                           obj="s.object", cond="true")
    raise SwarmscopeError(f"unknown trace kind {kind!r}: choose one of {', '.join(KINDS)}")


def reset_traces(db: Backend) -> None:
    """Drop the traces of every kind: the views ``traces``, ``trace_values``, ``trace_kinds``
    and ``trace_objects`` are empty until :func:`build_traces` builds a kind."""
    db.drop(*(f"{t}_{k}" for k in KINDS for t in ("traces", "trace_values")))
    db.materialise("trace_kinds", "SELECT CAST(NULL AS STRING) AS kind, "
                                  "CAST(NULL AS BOOLEAN) AS encoded, "
                                  "CAST(NULL AS BOOLEAN) AS one_per_post WHERE false")
    _trace_views(db)


def replace_traces(db: Backend, kind: str, sql: str) -> None:
    """The traces of ``kind`` become the rows of ``sql`` (account, object, post, ts): the
    permutations' shuffled copies, a test's synthetic traces."""
    if not db.has_table("trace_kinds"):
        reset_traces(db)
    db.materialise(f"traces_{kind}", f"SELECT CAST(account AS INTEGER) AS account, "
                                     f"CAST(object AS BIGINT) AS object, CAST(post AS BIGINT) "
                                     f"AS post, CAST(ts AS BIGINT) AS ts FROM ({sql}) s")
    _trace_views(db)


def _trace_views(db: Backend) -> None:
    """The views over every kind built: ``traces`` (kind, account, object, post, ts),
    ``trace_values`` (kind, object_key, value; derived kinds) and ``trace_objects`` (every
    object's value by kind: the derived kinds' and, for encoded kinds, the store's)."""
    built = [k for k in KINDS if db.has_table(f"traces_{k}")]
    derived = [k for k in built if db.has_table(f"trace_values_{k}")]
    db.view("traces", " UNION ALL ".join(
        [f"SELECT '{k}' AS kind, account, object, post, ts FROM traces_{k}" for k in built]
        or ["SELECT CAST(NULL AS STRING) AS kind, CAST(NULL AS INTEGER) AS account, "
            "CAST(NULL AS BIGINT) AS object, CAST(NULL AS BIGINT) AS post, "
            "CAST(NULL AS BIGINT) AS ts WHERE false"]))
    db.view("trace_values", " UNION ALL ".join(
        [f"SELECT '{k}' AS kind, object_key, value FROM trace_values_{k}" for k in derived]
        or ["SELECT CAST(NULL AS STRING) AS kind, CAST(NULL AS BIGINT) AS object_key, "
            "CAST(NULL AS STRING) AS value WHERE false"]))
    encoded = ("""UNION ALL SELECT k.kind, o.object_key, o.value FROM trace_kinds k
                  CROSS JOIN object_keys o WHERE k.encoded""" if db.has_table("object_keys")
               else "")   # traces without a store: a test's
    db.view("trace_objects", f"SELECT kind, object_key, value FROM trace_values {encoded}")


def stored_object_sql(obj: str, kind: str) -> tuple[str, str]:
    """How evidence stores the object ``obj`` of a trace of kind ``kind`` (SQL expressions):
    the columns ``object_key`` (the key in ``object_keys``, for ``ENCODED`` kinds) and
    ``object_value`` (the value of a derived object, numbered per run), and the joins they
    need (``trace_kinds`` as ``tk``, ``trace_values`` as ``tv``)."""
    return (f"CASE WHEN tk.encoded THEN {obj} END AS object_key, tv.value AS object_value",
            f"JOIN trace_kinds tk ON tk.kind = {kind} LEFT JOIN trace_values tv "
            f"ON NOT tk.encoded AND tv.kind = {kind} AND tv.object_key = {obj}")


def build_traces(db: Backend, kind: str, options: TraceOptions = TraceOptions(),
                 since: datetime | None = None, until: datetime | None = None) -> int:
    """(Re)build the traces of one kind into the table ``traces_<kind>`` (read through the
    view ``traces``), their object values into the view ``trace_objects``; returns the count.

    Traces are derived data, rebuilt for each run, so they are never stale. Accounts are keys
    of the store's ``account_keys``; objects of ``ENCODED`` kinds are keys of its
    ``object_keys`` (both assigned at ingest, stable), the others' are numbered here in the
    order of their values, so every engine numbers them alike. A trace's ``post`` is the
    post's ``post_key`` in ``posts``.
    ``trace_objects`` (kind, object_key, value) lists, for an ``ENCODED`` kind, every object
    of the store; join it on the keys. ``trace_kinds`` (kind, encoded, one_per_post) says how
    each kind was built.
    """
    d = db.dialect
    where = time_filter(since, until, "p.created_at")
    if not db.has_table("trace_kinds"):
        reset_traces(db)
    if kind == "similar_text":
        # imported when used: pyarrow.compute costs a fifth of a second at start-up
        from swarmscope.traces.similar_text import (SimilarityParams,
                                                        build_similar_text_objects)
        build_similar_text_objects(
            db, f"SELECT p.post_key AS post, p.text, {d.epoch_ms('p.created_at')} AS ts "
                f"FROM posts p WHERE {where} AND p.kind <> 'repost'",
            SimilarityParams(threshold=options.similar_text_threshold,
                             semantic=options.similar_text_semantic))
    # several platforms: their posts' and accounts' ids are told apart (numbered by platform)
    scoped = kind in PLATFORM_SCOPED and db.scalar(
        "SELECT count(DISTINCT platform) FROM account_keys") > 1
    encoded = kind in ENCODED and not scoped
    raw = _raw_traces_sql(kind, options, where, d, scoped)
    one_per_post = kind in ONE_PER_POST or kind == "repost" and not db.scalar(
        "SELECT count(*) FROM entities WHERE kind = 'object'")
    db.materialise("trace_kinds", f"""
        SELECT kind, encoded, one_per_post FROM trace_kinds WHERE kind <> '{kind}'
        UNION ALL SELECT '{kind}', {str(encoded).lower()}, {str(one_per_post).lower()}""")
    platform = ", platform" if scoped else ""
    with db.step(f"traces.{kind}"):
        if encoded:
            db.drop(f"trace_values_{kind}")
            db.materialise(f"traces_{kind}", f"SELECT * FROM ({raw}) r")
        else:
            # materialised: pushed into the filter, the object's expression (regular
            # expressions for text) would be evaluated once per condition and again for output
            db.materialise("raw_traces", f"WITH raw AS {d.materialized_cte} ({raw}) "
                                         "SELECT * FROM raw WHERE object IS NOT NULL "
                                         "AND object <> ''")
            db.materialise_numbered(
                f"trace_values_{kind}", f"SELECT DISTINCT object AS value{platform} FROM raw_traces",
                ["value"] + (["platform"] if scoped else []), "object_key")
            same = " AND o.platform = r.platform" if scoped else ""
            db.materialise(f"traces_{kind}", f"""
                SELECT r.account, o.object_key AS object, r.post, r.ts
                FROM raw_traces r JOIN trace_values_{kind} o ON o.value = r.object{same}""")
            db.drop("raw_traces", "similar_text_objects")
    _trace_views(db)
    return db.scalar(f"SELECT count(*) FROM traces_{kind}")
