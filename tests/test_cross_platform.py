"""Cross-platform co-action on real data: one store of Facebook and Twitter accounts (CooRTweet's
German federal election set, 2021) where accounts on both platforms push the same URLs; the
objects of reposts stay platform-specific ids."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from swarmscope import Store, ingest, pairs
from swarmscope.detection.evidence import detect_evidence
from swarmscope.engine import PairParams
from swarmscope.pipeline import DetectParams, detect

GERMAN = "coortweet/german_elections.csv.gz"
MAPS = {"post_id": "post_id", "account_id": "account_id", "created_at": "timestamp",
        "urls": "url_id", "hashtags": "hashtag_id", "domains": "domain_id", "media": "phash_id"}
PLATFORMS = {"fb_": "facebook", "tw_": "twitter"}


@pytest.fixture(scope="module")
def german(tmp_path_factory, shared) -> Path:
    """The set in one store: each platform's rows (account ids prefixed fb_/tw_) ingested
    with their own --platform, from files derived here from the real one."""
    tmp = tmp_path_factory.mktemp("german")
    con = duckdb.connect()
    with Store(tmp / "g.duckdb") as store:
        for prefix, platform in PLATFORMS.items():
            part = tmp / f"{platform}.csv"
            con.execute(f"COPY (SELECT * FROM read_csv('{shared / GERMAN}', all_varchar = true) "
                        f"WHERE account_id LIKE '{prefix}%') TO '{part}' (HEADER)")
            report = ingest(store, [part], format="table", mappings=MAPS, platform=platform)
            assert not report.failed
    return tmp / "g.duckdb"


def test_each_platform_is_stored_as_its_own(german, shared):
    raw = dict(duckdb.connect().execute(
        f"SELECT left(account_id, 3), count(DISTINCT post_id) FROM read_csv('{shared / GERMAN}', "
        "all_varchar = true) GROUP BY 1").fetchall())
    with Store(german, read_only=True) as s:
        stored = dict(s.con.execute("SELECT platform, count(*) FROM posts GROUP BY 1").fetchall())
        prefixes = s.con.execute("SELECT platform, list(DISTINCT left(account_id, 3)) "
                                 "FROM accounts GROUP BY 1").fetchall()
    assert stored == {PLATFORMS[p]: n for p, n in raw.items()}
    assert sorted(prefixes) == [("facebook", ["fb_"]), ("twitter", ["tw_"])]


def test_links_pushed_on_both_platforms_are_edges_with_both_platforms(german, shared):
    # the toolkit's co-link semantics on the raw file: account pairs that shared a URL id
    # within 60 s (one action per post and URL)
    ref = set(duckdb.connect().execute(f"""
        WITH s AS (SELECT DISTINCT url_id, account_id, post_id, CAST(timestamp AS BIGINT) AS ts
                   FROM read_csv('{shared / GERMAN}', all_varchar = true)
                   WHERE url_id IS NOT NULL AND post_id IS NOT NULL)
        SELECT DISTINCT l.account_id, r.account_id FROM s l JOIN s r ON l.url_id = r.url_id
             AND l.account_id < r.account_id AND abs(l.ts - r.ts) <= 60""").fetchall())
    with Store(german) as s:
        r = pairs(s, PairParams(kind="link", window=60))
        ours = {(min(a, b), max(a, b)) for a, b in s.con.execute(
            "SELECT account_a, account_b FROM edges WHERE run_id = ?", [r.run_id]).fetchall()}
        assert ours == ref and len(ref) == 2906
        assert sum(a[:3] != b[:3] for a, b in ref) == 34   # docs/platforms/README.md
        cross = s.con.execute(
            "SELECT platform_a, account_a, platform_b, account_b, events FROM edges "
            "WHERE run_id = ? AND platform_a <> platform_b", [r.run_id]).fetchall()
        assert cross and all({a, b} == {"facebook", "twitter"} for a, _, b, _, _ in cross)
        assert all(PLATFORMS[x[:3]] == p for p, x in [(c[0], c[1]) for c in cross]
                   + [(c[2], c[3]) for c in cross])
        # every piece of evidence names each side's platform: its post is of that platform and
        # carries the shared URL, within the window
        ev = s.con.execute("""
            SELECT v.platform_a, v.platform_b, count(*), count(ea.post_id), count(eb.post_id),
                   max(v.dt_s)
            FROM evidence v
            LEFT JOIN entities ea ON ea.platform = v.platform_a AND ea.post_id = v.post_a
                 AND ea.kind = 'url' AND ea.value = v.object
            LEFT JOIN entities eb ON eb.platform = v.platform_b AND eb.post_id = v.post_b
                 AND eb.kind = 'url' AND eb.value = v.object
            WHERE v.run_id = ? AND v.platform_a <> v.platform_b GROUP BY ALL""",
                             [r.run_id]).fetchall()
        events = sum(c[4] for c in cross)
        assert sum(n for *_, n, _, _, _ in ev) == events   # under 10 events per edge: all kept
        assert all(n == na == nb and dt <= 60 for _, _, n, na, nb, dt in ev)


def _coortweet_reference(path: Path, mp: int, tw: int) -> dict:
    """CooRTweet 2.1.3's detect_groups steps (../shared/data/peer_reference/README.md) on the
    set's URL shares (one row per post and URL), in plain SQL: an account pair -> share pairs.
    The account ids' fb_/tw_ prefixes keep the two platforms apart, as CooRTweet itself does."""
    return {(a, b): w for a, b, w in duckdb.connect().execute(f"""
        WITH s AS (SELECT DISTINCT url_id AS object, account_id AS account, post_id AS content,
                          CAST(timestamp AS BIGINT) AS ts
                   FROM read_csv('{path}', all_varchar = true)
                   WHERE url_id IS NOT NULL AND post_id IS NOT NULL),
        r1 AS (SELECT * FROM s WHERE account IN (
                   SELECT account FROM s GROUP BY account HAVING count(*) >= {mp})),
        p AS (SELECT l.account AS la, r.account AS ra, l.content AS lc, r.content AS rc
              FROM r1 l JOIN r1 r ON l.object = r.object AND l.content < r.content
                   AND abs(l.ts - r.ts) <= {tw}
              WHERE l.object <> l.content AND l.object <> r.content AND l.account <> r.account),
        part AS (SELECT account FROM r1 WHERE content IN (SELECT lc FROM p UNION SELECT rc FROM p)
                 GROUP BY account HAVING count(*) >= {mp})
        SELECT least(la, ra), greatest(la, ra), count(*) FROM p
        WHERE la IN (SELECT account FROM part) OR ra IN (SELECT account FROM part)
        GROUP BY ALL""").fetchall()}


@pytest.mark.parametrize("mp, tw", [(2, 60), (5, 600)])
def test_coortweet_semantics_across_platforms_as_coortweet_computes_them(german, shared, mp, tw):
    ref = _coortweet_reference(shared / GERMAN, mp, tw)
    with Store(german) as s:
        r = pairs(s, PairParams(kind="link", window=tw, semantics="coortweet",
                                min_participation=mp))
        ours = {(min(a, b), max(a, b)): w for a, b, w in s.con.execute(
            "SELECT account_a, account_b, weight FROM edges WHERE run_id = ?",
            [r.run_id]).fetchall()}
    assert ours == ref
    assert any(a[:3] != b[:3] for a, b in ref)   # cross-platform pairs among them


def test_reposts_of_the_same_id_on_two_platforms_are_not_co_reposts(tmp_path, shared):
    """The same real shares stored as two platforms' (the same ids, the same times): co-repost
    stays within each platform, with each platform's edges those of a store of it alone; content
    without ids of a platform (the time bins of sync) does pair across."""
    path = shared / "coortweet/russian_coord_tweets.csv.gz"
    params = PairParams(kind="repost", window=10)
    with Store(tmp_path / "one.duckdb") as s:
        ingest(s, [path], platform="twitter")
        alone = set(s.con.execute("SELECT account_a, account_b, weight FROM edges WHERE run_id = ?",
                                  [pairs(s, params).run_id]).fetchall())
    with Store(tmp_path / "two.duckdb") as s:
        for platform in ("twitter", "telegram"):
            ingest(s, [path], platform=platform)
        run_id = pairs(s, params).run_id
        by_platform = {p: set(s.con.execute(
            "SELECT account_a, account_b, weight FROM edges WHERE run_id = ? AND platform_a = ? "
            "AND platform_b = ?", [run_id, p, p]).fetchall()) for p in ("twitter", "telegram")}
        across = s.con.execute("SELECT count(*) FROM edges WHERE run_id = ? "
                               "AND platform_a <> platform_b", [run_id]).fetchone()[0]
        sync = pairs(s, PairParams(kind="sync", window=60)).run_id
        sync_across = s.con.execute("SELECT count(*) FROM edges WHERE run_id = ? "
                                    "AND platform_a <> platform_b", [sync]).fetchone()[0]
    assert alone and by_platform == {"twitter": alone, "telegram": alone}
    assert across == 0 and sync_across > 0


@pytest.mark.slow
def test_detect_flags_a_pair_across_platforms_with_both_platforms_in_its_evidence(german,
                                                                                  tmp_path):
    import shutil
    db = Path(shutil.copy(german, tmp_path / "g.duckdb"))
    with Store(db) as s:
        detect(s, DetectParams(windows={"link": (60.0, 600.0), "hashtag": (60.0, 600.0)}))
        cross = s.con.execute(
            "SELECT platform_a, account_a, platform_b, account_b FROM detect_edges "
            "WHERE platform_a <> platform_b").fetchall()
        evidence = s.con.execute(f"""
            SELECT count(*), count(*) FILTER (WHERE pa.post_id IS NOT NULL
                                                  AND pb.post_id IS NOT NULL)
            FROM ({detect_evidence()}) v
            LEFT JOIN posts pa ON pa.platform = v.platform_a AND pa.post_id = v.post_a
                 AND pa.account_id = v.account_a
            LEFT JOIN posts pb ON pb.platform = v.platform_b AND pb.post_id = v.post_b
                 AND pb.account_id = v.account_b
            WHERE v.platform_a <> v.platform_b""").fetchone()
    assert cross and all({a, b} == {"facebook", "twitter"} for a, _, b, _ in cross)
    assert evidence[0] > 0 and evidence[1] == evidence[0]
