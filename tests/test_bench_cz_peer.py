"""The coordinationz peer's plumbing (bench/peers): the store written as coordinationz's input
CSV and read back as its loader reads it; one method run in coordinationz's own environment,
where ``bash bench/peers/coordinationz_env.sh`` has made it (skipped otherwise)."""

from __future__ import annotations

import ast
import csv
import subprocess

import duckdb
import pandas as pd
import pytest

from conftest import ROOT


@pytest.fixture
def cz_peer(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    from peers import cz_peer
    return cz_peer


@pytest.fixture
def posts_csv(cz_peer, demo_ingested, tmp_path):
    out = tmp_path / "posts.csv"
    counts = cz_peer.write_posts_csv(duckdb.connect(), demo_ingested, out)
    return out, counts


def test_posts_csv_reads_back_as_the_store(posts_csv, demo_ingested):
    """Read with coordinationz's loader's options (all fields quoted, backslash escapes, list
    literals): the same posts, texts, types and entity lists as the store."""
    out, counts = posts_csv
    df = pd.read_csv(out, dtype=str, escapechar="\\", encoding="utf-8",
                     quoting=csv.QUOTE_NONNUMERIC, keep_default_na=False, na_values=[""])
    con = duckdb.connect()
    con.execute(f"ATTACH '{demo_ingested}' AS s (READ_ONLY)")
    store = con.execute("""
        SELECT p.post_id, p.account_id, p.text, p.kind,
               coalesce((SELECT list(e.value ORDER BY e.position) FROM s.entities e
                         WHERE e.post_id = p.post_id AND e.kind = 'hashtag'), []) AS tags,
               coalesce((SELECT list(e.value ORDER BY e.position) FROM s.entities e
                         WHERE e.post_id = p.post_id AND e.kind = 'url'), []) AS urls
        FROM s.posts p WHERE p.kind <> 'like' ORDER BY p.post_key""").df()
    assert counts["rows_written"] == len(df) == len(store) > 100_000
    assert list(df["tweet_id"]) == list(store["post_id"])
    assert list(df["user_id"]) == list(store["account_id"])
    assert df["text"].fillna("\0").tolist() == store["text"].fillna("\0").tolist()
    kinds = {"post": "tweet", "repost": "retweet", "reply": "reply", "quote": "quote"}
    assert df["tweet_type"].tolist() == store["kind"].map(kinds).tolist()
    assert df["hashtags"].map(ast.literal_eval).tolist() == store["tags"].map(list).tolist()
    assert df["urls"].map(ast.literal_eval).tolist() == store["urls"].map(list).tolist()
    retweets = df[df["tweet_type"] == "retweet"]
    assert retweets["linked_tweet"].notna().all()


def test_coretweet_in_coordinationz_env(cz_peer, posts_csv, demo_ingested, tmp_path):
    """Its co-retweet pairs: similarity above the union template's 0.80, both accounts with
    >= 10 retweets of >= 10 distinct objects (its defaults)."""
    py = cz_peer.python(None)
    if py is None:
        pytest.skip(cz_peer.SKIP)
    out, _ = posts_csv
    pairs = tmp_path / "pairs.csv"
    r = subprocess.run([str(py), str(cz_peer.RUNNER), "run", "--standins",
                        str(py.parent.parent / "standins"), "--csv", str(out), "--method",
                        "coretweet", "--out", str(pairs)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    got = pd.read_csv(pairs, dtype={"account_a": str, "account_b": str})
    assert len(got) > 0 and (got["value"] > 0.80).all()
    con = duckdb.connect()
    con.execute(f"ATTACH '{demo_ingested}' AS s (READ_ONLY)")
    active = {a for (a,) in con.execute("""
        SELECT account_id FROM s.posts WHERE kind = 'repost' GROUP BY account_id
        HAVING count(*) >= 10 AND count(DISTINCT parent_key) >= 10""").fetchall()}
    assert set(got["account_a"]) | set(got["account_b"]) <= active
