"""Property tests for the offline normalisers (hypothesis) and a few known cases."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings, strategies as st

from swarmscope.ingest.normalize import (SNOWFLAKE_EPOCH_MS, canonical_url, canonical_urls_sql,
                                         list_repr_sql, normalize_hashtag, parse_list_repr,
                                         register_functions, registered_domain, snowflake_ms_sql,
                                         timestamp_sql)


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    register_functions(c)
    return c


# -- Python-repr lists (IO archive list columns) ------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=6))
def test_list_repr_round_trips_through_sql(con, items):
    """Whatever strings a list holds (quotes, backslashes, newlines, emoji), parsing its repr in
    DuckDB gives the list back."""
    parsed = con.execute(f"SELECT {list_repr_sql('v')} FROM (SELECT ? AS v)", [repr(items)]
                         ).fetchone()[0]
    assert parsed == items
    assert parse_list_repr(repr(items)) == items


@pytest.mark.parametrize("value, expected", [
    ("[]", []), ("", []), (None, []), ("absent", []),
    ("['a', 'b']", ["a", "b"]), ('["it\'s"]', ["it's"]), ("[123, 456]", ["123", "456"]),
    ("['Москва', '#تست']", ["Москва", "#تست"]),
    ("[0\r]", ["0\r"]), ("['\\ud83d']", ["\ufffd"]), ("['\\ ']", ["\\ "]),  # found by fuzzing
    ("[\x1c'\\ ']", ["\x1c'\\ '"]),
])
def test_list_repr_known_values(con, value, expected):
    assert con.execute(f"SELECT {list_repr_sql('v')} FROM (SELECT ?::VARCHAR AS v)", [value]
                       ).fetchone()[0] == expected


@pytest.mark.parametrize("value", ["['a', 'b'", "a, b", "{'a': 1}", "[1, [2]]x", '["\x00"]'])
def test_list_repr_rejects_what_is_not_a_list(con, value):
    assert parse_list_repr(value) is None
    assert con.execute(f"SELECT {list_repr_sql('v')} FROM (SELECT ? AS v)", [value]
                       ).fetchone()[0] is None


# -- snowflake ids ------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(ms=st.integers(min_value=1_290_000_000_000, max_value=2_000_000_000_000),
       low=st.integers(min_value=0, max_value=(1 << 22) - 1))
def test_snowflake_decodes_the_millisecond(con, ms, low):
    tweet_id = ((ms - SNOWFLAKE_EPOCH_MS) << 22) | low
    assert con.execute(f"SELECT {snowflake_ms_sql('v')} FROM (SELECT ? AS v)",
                       [str(tweet_id)]).fetchone()[0] == ms


@pytest.mark.parametrize("value", ["12345678", "27000000000", "abc", "", "-5"])
def test_pre_snowflake_or_non_numeric_ids_decode_to_null(con, value):
    assert con.execute(f"SELECT {snowflake_ms_sql('v')} FROM (SELECT ? AS v)",
                       [value]).fetchone()[0] is None


def test_snowflake_times_from_2100_on_decode_to_null(con):
    assert con.execute(f"SELECT {snowflake_ms_sql('v')} FROM (SELECT ? AS v)",
                       ["18446744073709551615"]).fetchone()[0] is None


def test_snowflake_times_of_real_deleted_tweets(con, shared):
    """Elmas et al.'s bots' posts were deleted soon after creation: the creation time decoded
    from each id precedes the recorded deletion, by a median of about a minute."""
    path = shared / "turkish_astrobots/deleted_tweets.csv.bz2"
    import bz2, csv
    with bz2.open(path, "rt") as fh:
        rows = [(r["id"], int(r["timestamp_ms"])) for _, r in zip(range(5000), csv.DictReader(fh))]
    got = con.execute(f"SELECT {snowflake_ms_sql('id')} FROM (SELECT unnest(?) AS id)",
                      [[i for i, _ in rows]]).fetchall()
    lives = sorted(deleted - created for (_, deleted), (created,) in zip(rows, got))
    assert lives[0] >= 0
    assert 10_000 < lives[len(lives) // 2] < 600_000


# -- timestamps ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("1341100972", "2012-07-01 00:02:52"),
    ("1606451170.518101", "2020-11-27 04:26:10.518101"),
    ("1491703259888", "2017-04-09 02:00:59.888"),
    ("2017-01-01T10:00:00.000Z", "2017-01-01 10:00:00"),
    ("2017-01-01T12:00:00+02:00", "2017-01-01 10:00:00"),
    ("Sun Apr 09 02:00:59 +0000 2017", "2017-04-09 02:00:59"),
    ("1/2/2017 14:43", "2017-01-02 14:43:00"),
    ("2016-10-01 17:05", "2016-10-01 17:05:00"),
    ("not a time", None),
    ("253402300799", None),              # year 9999 in seconds: not milliseconds of 1978
    ("99999999999999999999", None),      # no overflow error, no time
    ("1000000000000000000", None),       # a timestamp_ms of 1e18
    ("27000000000", None),               # 11 digits: neither seconds nor milliseconds
    ("-86400", None),
    ("9999999999", "2286-11-20 17:46:39"),
    ("1000000000000", "2001-09-09 01:46:40"),
])
def test_timestamps_in_every_input_form(con, text, expected):
    con.execute("SET TimeZone = 'UTC'")
    got = con.execute(f"SELECT CAST({timestamp_sql('v')} AS VARCHAR) FROM (SELECT ? AS v)",
                      [text]).fetchone()[0]
    assert got == expected


# -- URLs ---------------------------------------------------------------------------------------
hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){0,2}\.(com|org|co\.uk|de)",
                      fullmatch=True).filter(lambda h: not h.startswith("www."))
paths = st.from_regex(r"(/[A-Za-z0-9._~-]{0,8}){0,3}", fullmatch=True)
params = st.lists(st.tuples(st.from_regex(r"[a-z]{1,6}", fullmatch=True),
                            st.from_regex(r"[A-Za-z0-9]{0,6}", fullmatch=True)), max_size=3)


@settings(max_examples=200, deadline=None)
@given(scheme=st.sampled_from(["http", "https"]), host=hosts, path=paths, query=params,
       www=st.booleans(), upper=st.booleans(), port=st.booleans(),
       tracking=st.lists(st.sampled_from(["utm_source", "utm_medium", "fbclid", "gclid"]),
                         max_size=2), fragment=st.text("abc", max_size=4))
def test_url_canonicalisation_properties(scheme, host, path, query, www, upper, port,
                                         tracking, fragment):
    tail = "&".join([f"{k}={v}" for k, v in query] + [f"{t}=x" for t in tracking])
    raw_host = ("www." if www else "") + host
    raw = (f"{scheme.upper() if upper else scheme}://{raw_host.upper() if upper else raw_host}"
           f"{(':443' if scheme == 'https' else ':80') if port else ''}{path}"
           f"{'?' + tail if tail else ''}{'#' + fragment if fragment else ''}")
    plain = f"{scheme}://{host}{'' if path == '/' else path}" + (
        "?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
    got = canonical_url(raw)
    assert got == plain                       # case, www., default port, tracking, fragment
    assert canonical_url(got) == got          # idempotent
    assert registered_domain(host) in host


def test_canonical_urls_in_bulk_match_one_by_one():
    urls = ["HTTPS://WWW.Example.com:443/a?utm_campaign=x&id=7#top", "t.co/AbC", "mailto:x",
            "https://user:pw@news.bbc.co.uk:8080/", "  http://x.org  "]
    rows = duckdb.connect().execute(
        canonical_urls_sql("(SELECT unnest(?) AS raw)"), [urls]).fetchall()
    assert {r[0]: r[1] for r in rows} == {u: canonical_url(u) for u in urls}
    assert canonical_url(urls[0]) == "https://example.com/a?id=7"
    assert canonical_url("t.co/AbC") == "http://t.co/AbC"     # shortener kept, path case kept
    assert canonical_url("mailto:x") is None
    assert canonical_url("http://www.com/") == "http://www.com"             # nothing left to drop
    assert canonical_url("http://www.www.x.com") == "http://x.com"           # idempotent
    assert canonical_url(urls[3]) == "https://news.bbc.co.uk:8080"


@pytest.mark.parametrize("host, domain", [
    ("news.bbc.co.uk", "bbc.co.uk"), ("t.co", "t.co"), ("a.b.example.com", "example.com"),
    ("foo.blogspot.com", "foo.blogspot.com"), ("localhost", "localhost")])
def test_registered_domain_from_bundled_public_suffix_list(host, domain):
    assert registered_domain(host) == domain


def test_hashtags_are_nfc_and_case_folded():
    assert normalize_hashtag("#Brexit") == "brexit"
    assert normalize_hashtag("＃STRASSE") == normalize_hashtag("#straße")   # casefold ß -> ss
    assert normalize_hashtag("#Cafe\u0301") == "caf\u00e9"                     # NFC
    assert normalize_hashtag("# #Tag ") == "tag"                              # idempotent
