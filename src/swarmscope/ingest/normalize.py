"""Offline normalisation of identifiers that traces compare: hashtags, URLs, domains, list columns,
and tweet times decoded from snowflake ids.

Everything here works without network access. Registered domains come from the Public Suffix
List snapshot bundled with ``tldextract`` (``suffix_list_urls=()``: never fetched at run time).
Python functions are registered in DuckDB and applied to *distinct* values only, so their cost
grows with the vocabulary, not with the number of posts.
"""

from __future__ import annotations

from swarmscope.store.sql import literal
import ast
import re
import unicodedata
import warnings
from functools import lru_cache

import duckdb

#: Twitter's snowflake epoch (2010-11-04T01:42:54.657Z) in Unix milliseconds.
SNOWFLAKE_EPOCH_MS = 1288834974657
#: Ids issued before snowflake (November 2010) were sequential and stayed below 3e10; a
#: snowflake id this large is 4 minutes past the snowflake epoch. Smaller ids are not decoded.
FIRST_SNOWFLAKE_ID = 1_000_000_000_000
#: Post times are plausible from 1970-01-01 to before 2100-01-01 (UTC); others are rejected.
PLAUSIBLE_FROM, PLAUSIBLE_BEFORE = "1970-01-01", "2100-01-01"
PLAUSIBLE_BEFORE_MS = 4_102_444_800_000   # 2100-01-01 in Unix milliseconds
#: An epoch number is seconds below 1e10 (up to 2286), milliseconds from 1e12 to 1e13
#: (2001-09-09 to 2286); other numbers (negative, 11 or 12 digits, 14 or more) are no time:
#: 253402300799, year 9999 in seconds, is not read as milliseconds of 1978.
EPOCH_SECONDS_BELOW, EPOCH_MS_FROM, EPOCH_MS_BELOW = 1e10, 1e12, 1e13
EPOCH_RULE = "epoch seconds (below 1e10) or milliseconds (1e12 to 1e13), from 1970 to 2099"

TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid",
    "_ga", "_gl", "ref_src", "ref_url", "cmpid", "s_cid", "ncid", "ocid", "wt.mc_id",
    "__twitter_impression", "mkt_tok", "vero_id", "oly_anon_id", "oly_enc_id", "rb_clickid",
    "spm", "share", "feature",
})


@lru_cache(maxsize=1)
def _extract():
    """The PSL extractor, built on first use (importing tldextract costs a CLI start 0.15 s).
    Private suffixes count (foo.blogspot.com is its own site): fake news webs live on such hosts."""
    import tldextract
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None,
                                 include_psl_private_domains=True)


#: Stripped from a hashtag: leading ``#`` marks and white space (in any mix), trailing space.
_HASHTAG_AFFIXES = re.compile(r"^[\s#＃]+|\s+$")


def normalize_hashtag(tag: str | None) -> str | None:
    """``#Brexit`` -> ``brexit``: NFC, ``#`` and white space stripped, case-folded."""
    if tag is None:
        return None
    return unicodedata.normalize("NFC", _HASHTAG_AFFIXES.sub("", tag)).casefold()


def canonical_urls_sql(source: str) -> str:
    """SQL: canonical form of every URL ``raw`` in the relation ``source`` -> (raw, url, host).

    Lower-cases scheme and host, drops user info, leading ``www.`` labels (not from ``www.com``),
    default ports, the fragment, a lone ``/`` path and tracking parameters (``utm_*`` and the
    names in ``TRACKING_PARAMS``); keeps
    the rest of the query in its order and the path as written. A scheme-less
    ``example.com/x`` is read as http; a value that is not a URL gets ``url`` NULL. Shortened
    links (t.co, bit.ly) are kept as they are: resolving them needs the network.
    """
    tracking = "|".join(re.escape(p) for p in sorted(TRACKING_PARAMS))
    return f"""
    WITH a AS (SELECT raw, trim(raw) AS u FROM {source}),
    b AS (SELECT raw, CASE
            WHEN regexp_matches(u, '^[A-Za-z][A-Za-z0-9+.-]*://') THEN u
            WHEN starts_with(u, '//') THEN 'http:' || u
            WHEN regexp_matches(u, '^[A-Za-z0-9_.-]+\\.[A-Za-z]{{2,}}([:/?#]|$)') THEN 'http://' || u
          END AS u FROM a),
    c AS (SELECT raw, regexp_extract(u, '^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)(\\?[^#]*)?',
                                     ['scheme', 'auth', 'path', 'query']) AS p FROM b),
    d AS (SELECT raw, lower(p.scheme) AS scheme,
                 lower(regexp_replace(p.auth, '^.*@', '')) AS hostport,
                 p.path AS path, ltrim(p.query, '?') AS query FROM c),
    e0 AS (SELECT raw, scheme, rtrim(regexp_extract(hostport, '^(\\[[^]]*\\]|[^:]*)', 1), '.')
                  AS host, regexp_extract(hostport, ':([0-9]+)$', 1) AS port, path, query FROM d),
    e AS (SELECT * REPLACE (regexp_replace(host, '^(www\\.)+([^.]*\\..*)$', '\\2') AS host)
          FROM e0)
    SELECT raw,
           CASE WHEN host <> '' THEN scheme || '://' || host
                || CASE WHEN port = '' OR (scheme = 'http' AND port = '80')
                        OR (scheme = 'https' AND port = '443') THEN '' ELSE ':' || port END
                || CASE WHEN path = '/' THEN '' ELSE path END
                || coalesce(nullif('?' || array_to_string(list_filter(string_split(query, '&'),
                       lambda kv: kv <> '' AND NOT regexp_full_match(lower(split_part(kv, '=', 1)),
                                                              'utm_.*|{tracking}')), '&'), '?'), '')
           END AS url,
           nullif(host, '') AS host
    FROM e"""


def canonical_url(url: str | None) -> str | None:
    """One URL in canonical form (see :func:`canonical_urls_sql`), or ``None`` if not a URL."""
    if url is None:
        return None
    row = _local().execute(canonical_urls_sql("(SELECT ? AS raw)"), [url]).fetchone()
    return row[1]


@lru_cache(maxsize=1)
def _local() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def registered_domain(host: str | None) -> str | None:
    """The registrable domain of a host (``news.bbc.co.uk`` -> ``bbc.co.uk``), from the PSL.

    Applied to distinct hosts, which are few even when URLs are many.
    """
    if not host:
        return None
    ext = _extract()(host)
    if ext.suffix and ext.domain:
        return f"{ext.domain}.{ext.suffix}"
    return host or None


_SIMPLE_LIST = re.compile(r"""^\[\s*(?:(?:'[^'\\]*'|"[^"\\]*")\s*(?:,\s*(?:'[^'\\]*'|"[^"\\]*")\s*)*,?\s*)?\]$""")


#: The first IO archive releases (October 2018) wrote lists unquoted: ``[MAGA, Trump]``.
#: (White space spelt out: Python's ``\s`` and DuckDB's differ, and both parsers use this one.)
_UNQUOTED_LIST = re.compile(r"""^\[[ \t\n\r\f\v]*[^'" \t\n\r\f\v\]].*\]$""", re.S)
#: A UTF-16 half without its other half (``'\\ud83d'``: an emoji cut in two) encodes to no UTF-8.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_list_repr(value: str | None) -> list[str] | None:
    """Parse a list column of an IO archive CSV: a Python repr (``"['a', 'b']"``) or, as in
    the October 2018 releases, unquoted (``[a, b]``, items split on ``", "`` and stripped of
    spaces).

    Numbers in the list are kept as their text; an escaped lone surrogate becomes U+FFFD.
    Returns ``None`` for a value that is not such a list, so that the caller can reject the
    record with a reason.
    """
    if value is None:
        return []
    value = value.strip()
    if value in ("", "[]", "absent"):
        return []
    if _UNQUOTED_LIST.match(value):
        return [x.strip(" ") for x in value[1:-1].split(", ") if x.strip(" ")]
    try:
        with warnings.catch_warnings():      # an invalid escape ('\\ ') warns, and is kept
            warnings.simplefilter("ignore")
            parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if not isinstance(parsed, list | tuple):
        return None
    return [_LONE_SURROGATE.sub("\ufffd", str(x)) for x in parsed]


def list_repr_sql(column: str) -> str:
    """SQL that parses a list column like :func:`parse_list_repr`: regexes in DuckDB for the
    common forms, the exact Python parser (``swarmscope_parse_list``) only for values with
    backslashes, NUL bytes or other rare shapes."""
    c = f"trim({column})"
    return (f"CASE WHEN {column} IS NULL OR {c} IN ('', '[]', 'absent') THEN []::VARCHAR[] "
            f"WHEN regexp_full_match({c}, {literal(_UNQUOTED_LIST.pattern[1:-1])}) "
            f"THEN list_filter(list_transform(string_split({c}[2:-2], ', '), lambda x: trim(x)), "
            "lambda x: x <> '') "
            f"WHEN NOT regexp_matches({c}, '[\\\\\\x00]') AND regexp_full_match("
            f"{c}, {literal(_SIMPLE_LIST.pattern[1:-1])}) "
            f"THEN list_transform(regexp_extract_all({c}, '''([^'']*)''|\"([^\"]*)\"'), "
            "lambda x: x[2:-2]) "
            f"ELSE swarmscope_parse_list({column}) END")


def snowflake_ms_sql(id_expr: str) -> str:
    """SQL: Unix milliseconds encoded in a snowflake id; NULL for pre-snowflake or non-numeric
    ids, and for ids whose time would be implausible (from 2100 on)."""
    ms = f"(TRY_CAST({id_expr} AS UBIGINT) >> 22) + {SNOWFLAKE_EPOCH_MS}"
    return (f"CASE WHEN TRY_CAST({id_expr} AS UBIGINT) >= {FIRST_SNOWFLAKE_ID} "
            f"AND {ms} < {PLAUSIBLE_BEFORE_MS} THEN CAST({ms} AS BIGINT) END")


def snowflake_time_sql(id_expr: str, stated: str, unit: str) -> str:
    """SQL: the exact time of a post from its snowflake id where that falls in the ``unit``
    (minute, second) of the ``stated`` time, or where none is stated; else the stated time."""
    exact = f"make_timestamp(({snowflake_ms_sql(id_expr)}) * 1000)"
    return (f"CASE WHEN {exact} IS NOT NULL AND ({stated} IS NULL OR date_trunc('{unit}', "
            f"{exact}) = date_trunc('{unit}', {stated})) THEN {exact} ELSE {stated} END")


def epoch_to_timestamp_sql(expr: str) -> str:
    """SQL: epoch seconds or milliseconds -> TIMESTAMP, by the rule of ``EPOCH_RULE``; NULL
    for a number that is neither (never an overflow error)."""
    n = f"TRY_CAST({expr} AS DOUBLE)"
    return (f"CASE WHEN {n} >= 0 AND {n} < {EPOCH_SECONDS_BELOW:g} "
            f"THEN make_timestamp(CAST(round({n} * 1e6) AS BIGINT)) "
            f"WHEN {n} >= {EPOCH_MS_FROM:g} AND {n} < {EPOCH_MS_BELOW:g} "
            f"THEN make_timestamp(CAST(round({n} * 1000) AS BIGINT)) END")


def clean_id_sql(expr: str) -> str:
    """SQL: an id without surrounding white space or byte-order marks; NULL when empty.
    Trimmed only where an end holds one: testing the ends with a regular expression costs a
    quarter of ``trim`` with a set of characters, which almost no id needs."""
    pad = "[ \\t\\n\\r\\x{FEFF}]"
    return (f"nullif(CASE WHEN regexp_matches({expr}, '^{pad}|{pad}$') THEN trim({expr}, "
            f"' ' || chr(9) || chr(10) || chr(13) || chr(65279)) ELSE {expr} END, '')")


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Make the Python normalisers callable from SQL on this connection."""
    for name, fn, ret in (("swarmscope_registered_domain", registered_domain, "VARCHAR"),
                          ("swarmscope_hashtag", normalize_hashtag, "VARCHAR"),
                          ("swarmscope_parse_list", parse_list_repr, "VARCHAR[]")):
        try:
            con.remove_function(name)
        except duckdb.Error:
            pass
        con.create_function(name, fn, ["VARCHAR"], ret, null_handling="special",
                            side_effects=False)



def timestamp_sql(expr: str) -> str:
    """SQL: a time in any of the forms the inputs use -> TIMESTAMP (UTC), NULL if unparseable.

    Accepted: epoch seconds or milliseconds (``1341100972``, ``1606451170.518``), ISO 8601 with
    or without offset (``2017-01-01T10:00:00.000Z``), Twitter v1.1 (``Sun Apr 09 02:00:59 +0000
    2017``), and the FiveThirtyEight IRA form (``1/2/2017 14:43``); DuckDB timestamps pass through.
    """
    e = f"trim(CAST({expr} AS VARCHAR))"
    return (f"CASE WHEN regexp_full_match({e}, '-?[0-9]+(\\.[0-9]+)?') "
            f"THEN {epoch_to_timestamp_sql(e)} ELSE coalesce("
            f"TRY_CAST(TRY_CAST({e} AS TIMESTAMPTZ) AS TIMESTAMP), "
            f"TRY_CAST(try_strptime({e}, '%a %b %d %H:%M:%S %z %Y') AS TIMESTAMP), "
            f"try_strptime({e}, '%m/%d/%Y %H:%M'), try_strptime({e}, '%m/%d/%Y %H:%M:%S')) END")


def parent_object_sql(kind: str, parent_post_id: str, parent_account_id: str, text: str) -> str:
    """SQL: the object a post reposts, replies to or likes, as the ``repost``, ``reply`` and
    ``like`` traces compare it: the parent post id; for a repost without one, ``account:`` + the parent's
    author, else ``text:`` + the MD5 of its text (lower-cased, ``RT @x:`` and quotes off,
    whitespace collapsed; IRA). NULL for other posts, and where nothing is known."""
    tk = f"regexp_replace(lower({text}), '^rt @\\S+:?\\s*', '')"
    tk = f"regexp_replace({tk}, '[\"“”‘’'']', '', 'g')"
    tk = f"trim(regexp_replace({tk}, '\\s+', ' ', 'g'))"
    return (f"nullif(CASE WHEN {kind} IN ('reply', 'like') THEN {parent_post_id} "
            f"WHEN {kind} <> 'repost' THEN NULL "
            f"WHEN {parent_post_id} IS NOT NULL THEN {parent_post_id} "
            f"WHEN {parent_account_id} IS NOT NULL THEN 'account:' || {parent_account_id} "
            f"ELSE 'text:' || md5(nullif({tk}, '')) END, '')")


def html_text_sql(html: str) -> str:
    """SQL: the text of the HTML that APIs write for a post (Mastodon's content, YouTube's
    ``textDisplay``): paragraphs and line breaks as newlines, tags dropped, entities decoded
    (``&amp;`` last)."""
    t = f"regexp_replace({html}, '<br\\s*/?>', chr(10), 'g')"
    t = f"regexp_replace({t}, '</p>\\s*<p>', chr(10) || chr(10), 'g')"
    t = f"regexp_replace({t}, '<[^>]*>', '', 'g')"
    for entity, char in (("&quot;", '"'), ("&#39;", "''"), ("&apos;", "''"), ("&lt;", "<"),
                         ("&gt;", ">"), ("&nbsp;", " "), ("&amp;", "&")):
        t = f"replace({t}, '{entity}', '{char}')"
    return t


def text_list_sql(text: str, pattern: str, *markers: str) -> str:
    """SQL: every match of a capture group in a text (hashtags, mentions, links); the regex
    runs only on texts that contain one of ``markers`` (most texts have no hashtag, say)."""
    has = " OR ".join(f"contains({text}, {literal(m)})" for m in markers)
    return (f"CASE WHEN {has} "
            f"THEN regexp_extract_all({text}, {literal(pattern)}, 1) ELSE []::VARCHAR[] END")


HASHTAG_PATTERN = r"(?:^|[^\p{L}\p{N}_&/])[#＃]([\p{L}\p{N}_]*[\p{L}_][\p{L}\p{N}_]*)"
MENTION_PATTERN = r"(?:^|[^\p{L}\p{N}_])[@＠]([A-Za-z0-9_]{1,50})"
URL_PATTERN = r"(https?://[^\s<>\"']+)"
