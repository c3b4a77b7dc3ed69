"""Every reader on the real files in ../shared/data: counts checked against the raw files with
independent queries, re-ingest adds nothing, and read = stored + duplicates + rejected."""

from __future__ import annotations

import importlib
import json
import re

import duckdb
import pytest

from swarmscope import Store, ingest
from tests.conftest import run

CNT_DIR = "fixtures/coordination_network_toolkit"


def q(store: Store, sql: str):
    return store.con.execute(sql).fetchall()


def one(store: Store, sql: str):
    return store.con.execute(sql).fetchone()[0]


def assert_balanced(report) -> None:
    for f in report.files:
        assert f.read == f.stored + f.duplicates + f.rejected, f
    assert not report.failed, report.failed


def assert_reingest_adds_nothing(store: Store, paths, **kw) -> None:
    before = one(store, "SELECT count(*) FROM posts"), one(store, "SELECT count(*) FROM entities")
    again = ingest(store, paths, **kw)
    assert_balanced(again)
    assert all(f.stored == 0 and f.duplicates == f.read - f.rejected for f in again.files)
    assert (one(store, "SELECT count(*) FROM posts"),
            one(store, "SELECT count(*) FROM entities")) == before


def test_cnt_fixture_with_bom_and_crlf(store, shared):
    path = shared / CNT_DIR / "coretweet_test_input.csv"
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf" and b"\r\n" in path.read_bytes()
    report = ingest(store, [path])
    assert_balanced(report)
    assert report.files[0].format == "cnt" and report.files[0].stored == 15
    raw = duckdb.connect().execute(
        f"SELECT message_id::VARCHAR, user_id, repost_id, timestamp::DOUBLE "
        f"FROM read_csv('{path}', all_varchar=true) ORDER BY 1").fetchall()
    got = q(store, "SELECT post_id, account_id, parent_post_id, epoch(created_at) FROM posts "
                   "WHERE kind = 'repost' ORDER BY 1")
    assert got == raw
    assert_reingest_adds_nothing(store, [path])


def test_cnt_sample_data_urls_are_entities(store, shared):
    path = shared / CNT_DIR / "sample_data.csv"
    assert_balanced(ingest(store, [path], format="cnt"))
    kinds = dict(q(store, "SELECT kind, count(*) FROM posts GROUP BY kind"))
    raw = duckdb.connect().execute(
        f"SELECT count(*) FILTER (WHERE repost_id IS NOT NULL), "
        f"count(*) FILTER (WHERE repost_id IS NULL AND reply_id IS NOT NULL) "
        f"FROM read_csv('{path}', all_varchar=true)").fetchone()
    assert (kinds.get("repost", 0), kinds.get("reply", 0)) == raw
    assert one(store, "SELECT count(*) FROM entities WHERE kind = 'url'") > 0


def test_coortweet_shares(store, shared):
    path = shared / "coortweet/russian_coord_tweets.csv.gz"
    report = ingest(store, [path])
    assert_balanced(report)
    f = report.files[0]
    raw = duckdb.connect().execute(
        f"SELECT count(*), count(DISTINCT content_id), count(DISTINCT (content_id, object_id)) "
        f"FROM read_csv('{path}', all_varchar=true)").fetchone()
    assert f.format == "coortweet" and f.read == raw[0] == 35_125
    assert one(store, "SELECT count(*) FROM posts") == raw[1]
    assert one(store, "SELECT count(*) FROM entities WHERE kind = 'object'") == raw[2]
    assert f.stored == raw[2] and f.duplicates == raw[0] - raw[2]   # repeated (post, object)
    assert_reingest_adds_nothing(store, [path])


def test_snap_higgs(store, shared):
    path = shared / "higgs/higgs_activity.parquet"
    assert_balanced(ingest(store, [path]))
    con = duckdb.connect()
    expected = dict(con.execute(f"""
        SELECT kind, count(*) FROM (
            SELECT CASE WHEN bool_or(interaction = 'RT') THEN 'repost'
                        WHEN bool_or(interaction = 'RE') THEN 'reply' ELSE 'post' END AS kind
            FROM '{path}' GROUP BY user_a, ts) GROUP BY kind""").fetchall())
    assert dict(q(store, "SELECT kind, count(*) FROM posts GROUP BY kind")) == expected
    mt = con.execute(f"SELECT count(DISTINCT (user_a, ts, user_b)) FROM '{path}' "
                     "WHERE interaction = 'MT'").fetchone()[0]
    assert one(store, "SELECT count(*) FROM entities WHERE kind = 'mention'") >= mt
    # a retweet's parent account is the retweeted account
    a, ts, b = con.execute(f"SELECT user_a, ts, min(user_b) FROM '{path}' WHERE interaction = 'RT' "
                           "GROUP BY ALL ORDER BY ts LIMIT 1").fetchone()
    assert one(store, f"SELECT parent_account_id FROM posts WHERE post_id = '{a}-{ts}'") == str(b)
    assert one(store, "SELECT count(DISTINCT account_id) FROM posts") == con.execute(
        f"SELECT count(DISTINCT user_a) FROM '{path}'").fetchone()[0]
    assert_reingest_adds_nothing(store, [path])


def test_snap_higgs_original_text_layout(tmp_path, db, shared):
    lines = duckdb.connect().execute(
        f"SELECT concat_ws(' ', user_a, user_b, ts, interaction) FROM "
        f"'{shared / 'higgs/higgs_activity.parquet'}' ORDER BY ts, user_a, user_b LIMIT 2000"
    ).fetchall()
    path = tmp_path / "higgs-activity_time.txt"
    path.write_text("".join(x[0] + "\n" for x in lines))
    r = run("ingest", path, db=db)
    assert r.exit_code == 0, r.output
    assert "(snap-higgs): read 2,000 = " in r.output


def test_osome_hashed_json(store, shared):
    path = shared / "fixtures/osome_cs4_sample_hashed_tweets.json"
    assert_balanced(ingest(store, [path]))
    text, dec, pos, objs = path.read_text(), json.JSONDecoder(), 0, []
    while (pos := len(text) - len(text[pos:].lstrip())) < len(text):
        obj, pos = dec.raw_decode(text, pos)
        objs.append(obj)
    assert one(store, "SELECT count(*) FROM posts") == len(objs) == 17
    for o in objs:
        row = store.con.execute("SELECT account_id, kind, parent_post_id, created_at FROM posts "
                                "WHERE post_id = ?", [o["id_str_h"]]).fetchone()
        assert row[0] == o["user"]["id_str_h"]
        if "retweeted_status" in o:
            assert row[1] == "repost" and row[2] == o["retweeted_status"]["id_str_h"]
        assert int(row[3].timestamp() * 1000) == int(o["timestamp_ms"])


def test_table_format_on_german_elections(store, shared):
    path = shared / "coortweet/german_elections.csv.gz"
    maps = {"post_id": "post_id", "account_id": "account_id", "created_at": "timestamp",
            "urls": "url_id", "hashtags": "hashtag_id", "domains": "domain_id", "media": "phash_id"}
    report = ingest(store, [path], format="table", mappings=maps, platform="mixed")
    assert_balanced(report)
    con = duckdb.connect()
    n, posts, no_id, phash = con.execute(
        f"SELECT count(*), count(DISTINCT post_id), count(*) FILTER (WHERE post_id IS NULL), "
        f"count(DISTINCT (post_id, phash_id)) FILTER (WHERE post_id IS NOT NULL AND phash_id IS NOT NULL) "
        f"FROM read_csv('{path}', all_varchar=true)").fetchone()
    f = report.files[0]
    assert (f.read, f.rejected) == (n, no_id)
    assert one(store, "SELECT count(*) FROM posts") == posts
    assert one(store, "SELECT count(*) FROM entities WHERE kind = 'media'") == phash
    assert q(store, "SELECT DISTINCT field FROM rejects") == [("post_id",)]


@pytest.fixture(scope="module")
def ira_store(tmp_path_factory, shared):
    path = tmp_path_factory.mktemp("ira") / "ira.duckdb"
    store = Store(path)
    report = ingest(store, [shared / "ira/ira_tweets.parquet"])
    yield store, report
    store.close()


@pytest.mark.slow
def test_ira_every_row_is_a_post(ira_store, shared):
    store, report = ira_store
    assert_balanced(report)
    f = report.files[0]
    assert f.format == "fivethirtyeight-ira"
    assert f.read == f.stored == one(store, "SELECT count(*) FROM posts") == 1_748_459
    raw = duckdb.connect().execute(
        f"SELECT count(DISTINCT author_id), count(*) FILTER (WHERE post_type = 'R'), "
        f"count(*) FILTER (WHERE post_type = 'Q') "
        f"FROM '{shared / 'ira/ira_tweets.parquet'}'").fetchone()
    assert one(store, "SELECT count(*) FROM accounts") == raw[0]
    kinds = dict(q(store, "SELECT kind, count(*) FROM posts GROUP BY kind"))
    assert (kinds["repost"], kinds["quote"]) == raw[1:]


def test_ira_labels_match_authors_csv(ira_store, shared):
    store, _ = ira_store
    authors = duckdb.connect().execute(
        f"SELECT author_id, account_category FROM read_csv('{shared / 'ira/authors.csv'}', "
        "all_varchar=true)").fetchall()
    got = dict(q(store, "SELECT account_id, value FROM account_labels "
                        "WHERE name = 'account_category'"))
    common = [(a, c) for a, c in authors if a in got]
    assert len(common) > 1900
    assert all(got[a] == c for a, c in common)


def test_ira_hashtags_match_an_independent_reading(ira_store, shared):
    """Hashtags of 2,000 posts read with Python's own regex agree with the stored entities."""
    store, _ = ira_store
    rows = q(store, "SELECT post_id, text FROM posts WHERE contains(text, '#') "
                    "ORDER BY post_id LIMIT 2000")
    ents = {}
    for pid, tag in q(store, "SELECT post_id, value FROM entities WHERE kind = 'hashtag' AND "
                             "post_id IN (SELECT post_id FROM posts WHERE contains(text, '#') "
                             "ORDER BY post_id LIMIT 2000)"):
        ents.setdefault(pid, set()).add(tag)
    agree = sum(ents.get(pid, set()) == {t.casefold() for t in re.findall(
        r"(?:^|[^\w&/])#(\w*[^\W\d]\w*)", text)} for pid, text in rows)
    assert agree / len(rows) > 0.98


@pytest.mark.slow
def test_ira_reingest_is_idempotent(ira_store, shared, tmp_path):
    """200,000 rows of the release again (every fifth row of a million): nothing added."""
    store, _ = ira_store
    rows = tmp_path / "ira_rows.parquet"
    duckdb.sql(f"COPY (SELECT * EXCLUDE (file_row_number) FROM read_parquet("
               f"'{shared / 'ira/ira_tweets.parquet'}', file_row_number = true) "
               f"WHERE file_row_number % 5 = 0 AND file_row_number < 1000000) TO '{rows}' "
               "(FORMAT parquet)")
    assert_reingest_adds_nothing(store, [rows])


@pytest.mark.parametrize("path, size", [("coortweet/russian_coord_tweets.csv.gz", 9_000),
                                        ("higgs/higgs_activity.parquet", 100_000),
                                        ("ira/ira_tweets.parquet", 3_000)])
def test_partitioned_ingest_stores_the_same(tmp_path, shared, monkeypatch, path, size):
    """Large files are stored in partitions (ranges of records, each post's records with its
    first); the result does not depend on them, also for formats whose posts span several
    records and for accounts whose fields change from record to record (the IRA authors'
    follower counts: the latest record wins, as in one partition)."""
    merge = importlib.import_module("swarmscope.ingest.merge")
    source = shared / path
    if path.startswith("ira/"):   # 20,000 tweets: the authors' follower counts change
        source = tmp_path / "ira_20k.parquet"
        duckdb.sql(f"COPY (SELECT * FROM read_parquet('{shared / path}') LIMIT 20000) "
                   f"TO '{source}' (FORMAT parquet)")
    seen = []
    for records in (10**9, size):
        monkeypatch.setattr(merge, "PARTITION_RECORDS", records)
        with Store(tmp_path / f"p{records}.duckdb") as s:
            f = ingest(s, [source]).files[0]
            seen.append((f.read, f.stored, f.duplicates, f.rejected, s.con.execute("""
                SELECT (SELECT sum(hash(post_id, account_id, kind, parent_account_id, created_at,
                                        source_row)) FROM posts),
                       (SELECT sum(hash(post_id, kind, value, position)) FROM entities),
                       (SELECT count(*) FROM entities),
                       (SELECT sum(hash(account_id, handle, display_name, description,
                                        created_at, followers, following, reported_location))
                        FROM accounts),
                       (SELECT sum(hash(account_id, name, value)) FROM account_labels)"""
                                                                       ).fetchone()))
    assert seen[0] == seen[1]
