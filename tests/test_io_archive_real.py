"""The Twitter Information Operations archive reader on the two real samples in
../shared/data/platforms: the first 1,000 lines of russia_201901_1's tweets CSV (31 columns, its
last record cut by its author) and the Oct 2018 Iranian release reduced to 11 columns (read with
the ``--format table`` mapping that docs/platforms/twitter_io_archive.md shows). Every expected
value is read from the raw file here, with Python's csv module."""

from __future__ import annotations

import ast
import csv
from datetime import datetime, timezone

import pytest

from swarmscope import Store, ingest
from tests.conftest import ROOT, run
from tests.test_docs import doc_commands

RUSSIA = "platforms/twitter_io_archive/speed_layer_sample.csv"
IRAN = "platforms/twitter_io_archive_iran_2018/iranian_unseen.csv"
PAGE = ROOT / "docs" / "platforms" / "twitter_io_archive.md"


def snowflake(tweetid: str) -> datetime:
    return datetime.fromtimestamp(((int(tweetid) >> 22) + 1288834974657) / 1000,
                                  timezone.utc).replace(tzinfo=None)


@pytest.fixture(scope="module")
def russia(tmp_path_factory, shared):
    path = shared / RUSSIA
    with path.open(newline="", encoding="utf-8") as fh:
        records = list(csv.DictReader(fh))
    store = Store(tmp_path_factory.mktemp("io") / "io.duckdb")
    report = ingest(store, [path])
    yield store, report, records
    store.close()


def test_the_cut_last_record_is_one_reject_and_every_complete_record_is_stored(russia, shared):
    store, report, records = russia
    complete = [r for r in records if r["poll_choices"] is not None]   # all 31 fields
    cut = [r for r in records if r["poll_choices"] is None]
    assert len(complete) == 407 and len(cut) == 1 and cut[0]["tweet_time"] is None
    f = report.files[0]
    assert f.format == "io-archive" and not report.failed
    assert (f.read, f.stored, f.duplicates, f.rejected) == (408, 407, 0, 1)
    last_start = max(i for i, line in enumerate(
        (shared / RUSSIA).read_text(encoding="utf-8").splitlines(), 1)
        if line.startswith(f'"{cut[0]["tweetid"]}",'))
    rejects = store.con.execute("SELECT file, line, field, reason, excerpt FROM rejects").fetchall()
    assert len(rejects) == 1
    file, line, field, reason, excerpt = rejects[0]
    assert (file, line, field) == (str(shared / RUSSIA), last_start, "tweet_text") == (
        str(shared / RUSSIA), 998, "tweet_text")
    assert "the file ends inside this record" in reason and cut[0]["tweetid"] in excerpt
    ids = {r[0] for r in store.con.execute("SELECT post_id FROM posts").fetchall()}
    assert ids == {r["tweetid"] for r in complete}


def test_kinds_parents_and_times_are_the_raw_file_s(russia):
    store, _, records = russia
    complete = {r["tweetid"]: r for r in records if r["poll_choices"] is not None}
    posts = store.con.execute("SELECT post_id, account_id, kind, parent_post_id, "
                              "parent_account_id, quoted_post_id, created_at, lang FROM posts"
                              ).fetchall()
    for pid, account, kind, parent, parent_account, quoted, created, lang in posts:
        r = complete[pid]
        retweet, quote = r["is_retweet"] == "true", bool(r["quoted_tweet_tweetid"])
        assert account == r["userid"] and lang == (r["tweet_language"] or None)
        assert kind == ("repost" if retweet else "quote" if quote else "post")
        if retweet:
            assert (parent, parent_account) == (r["retweet_tweetid"], r["retweet_userid"])
        assert quoted == (r["quoted_tweet_tweetid"] or None)
        minute = datetime.strptime(r["tweet_time"], "%Y-%m-%d %H:%M")
        assert created == snowflake(pid) and minute <= created < minute.replace(second=59,
                                                                                 microsecond=999999)
    kinds = dict(store.con.execute("SELECT kind, count(*) FROM posts GROUP BY 1").fetchall())
    assert kinds == {"post": 355, "quote": 49, "repost": 3}
    # a retweet that also names a quoted tweet is a repost (the README's 50 quotes count it)
    assert store.con.execute("SELECT kind, parent_post_id, parent_account_id, quoted_post_id "
                             "FROM posts WHERE post_id = '850236975940370433'").fetchone() == (
        "repost", "850214516004601856", "705442898188210177", "850210566740234240")


def test_list_columns_become_entities_in_order(russia):
    store, _, records = russia
    got: dict[tuple[str, str], list[str]] = {}
    for pid, kind, value in store.con.execute(
            "SELECT post_id, kind, value FROM entities WHERE kind IN ('hashtag', 'mention') "
            "ORDER BY post_id, kind, position").fetchall():
        got.setdefault((pid, kind), []).append(value)
    for r in records:
        if r["poll_choices"] is None:
            continue
        # the mentions are user ids
        for col, kind in (("hashtags", "hashtag"), ("user_mentions", "mention")):
            raw = ast.literal_eval(r[col]) if r[col] else []
            want = list(dict.fromkeys(str(v).lower() for v in raw))   # repeated: one entity
            assert got.get((r["tweetid"], kind), []) == want, (r["tweetid"], col)
    urls = sum(len(ast.literal_eval(r["urls"])) for r in records
               if r["poll_choices"] is not None and r["urls"])
    assert store.con.execute("SELECT count(*) FROM entities WHERE kind = 'url'"
                             ).fetchone()[0] == urls == 146


def test_accounts_real_and_hashed(russia):
    store, _, records = russia
    complete = [r for r in records if r["poll_choices"] is not None]
    assert store.con.execute("SELECT count(*) FROM accounts").fetchone()[0] == len(
        {r["userid"] for r in complete}) == 86
    hashed = {r["userid"] for r in complete if r["userid"] == r["user_screen_name"]}
    assert store.con.execute("SELECT count(*) FROM accounts WHERE handle = account_id"
                             ).fetchone()[0] == len(hashed) == 83
    raw = next(r for r in complete if r["userid"] == "2980186012")
    assert store.con.execute(
        "SELECT handle, followers, following, created_at, reported_location FROM accounts "
        "WHERE account_id = '2980186012'").fetchone() == (
        raw["user_screen_name"], int(raw["follower_count"]), int(raw["following_count"]),
        datetime.strptime(raw["account_creation_date"], "%Y-%m-%d"),
        raw["user_reported_location"])
    assert raw["user_screen_name"] == "CathyTo47590555"


def test_reingest_stores_nothing_and_rejects_the_cut_record_again(russia, shared):
    store, _, _ = russia
    again = ingest(store, [shared / RUSSIA]).files[0]
    assert (again.read, again.stored, again.duplicates, again.rejected) == (408, 0, 407, 1)
    assert store.con.execute("SELECT count(*) FROM posts").fetchone()[0] == 407


def test_iran_2018_columns_through_the_documented_table_mapping(tmp_path, shared):
    """The page's command, run as written on the real file: every row a post, the times from
    the snowflake ids (in each row's tweet_time minute or second), both account-creation forms
    read, the bot_or_not label on each account."""
    [(argv, shown)] = [c for c in doc_commands(PAGE, tmp_path) if IRAN in " ".join(c[0])]
    db = argv[argv.index("--db") + 1]
    result = run(*argv)
    assert result.exit_code == 0, result.output
    assert all(line in result.output for line in shown)
    with (shared / IRAN).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with Store(db, read_only=True) as s:
        posts = dict(((p, (a, t, x)) for p, a, t, x in s.con.execute(
            "SELECT post_id, account_id, created_at, text FROM posts").fetchall()))
        accounts = {a: (c, f) for a, c, f in s.con.execute(
            "SELECT account_id, created_at, followers FROM accounts").fetchall()}
        labels = dict(s.con.execute("SELECT value, count(*) FROM account_labels "
                                    "WHERE name = 'bot_or_not' GROUP BY 1").fetchall())
        tags = s.con.execute("SELECT count(*) FROM entities WHERE kind = 'hashtag' "
                             "AND post_id = '923662299293978624'").fetchone()[0]
    assert len(posts) == len(rows) == 2000 and len(accounts) == 74
    for r in rows:
        account, created, text = posts[r["tweetid"]]
        stated = r["tweet_time"]
        fmt = "%Y-%m-%d %H:%M:%S" if stated.count(":") == 2 else "%Y-%m-%d %H:%M"
        start = datetime.strptime(stated, fmt)
        assert account == r["user_screen_name"] and text == r["tweet_text"]
        assert created == snowflake(r["tweetid"])
        assert 0 <= (created - start).total_seconds() < (1 if fmt.endswith("%S") else 60)
        when = r["account_creation_date"]
        born = (datetime.strptime(when, "%Y-%m-%d") if "-" in when else
                datetime.strptime(when, "%a %b %d %H:%M:%S %z %Y").replace(tzinfo=None))
        assert accounts[account] == (born, int(r["follower_count"]))
    per_label = {v: len({r["user_screen_name"] for r in rows if r["bot_or_not"] == v})
                 for v in ("0", "1")}
    assert labels == per_label == {"1": 39, "0": 35}
    assert tags == 3   # #Bahraini #Israeli #Israel in the first row's text
