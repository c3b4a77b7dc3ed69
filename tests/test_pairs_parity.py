"""Parity with the peers on their own data: coordination-network-toolkit's fixture and package,
and CooRTweet 2.1.3's reference outputs (../shared/data/peer_reference)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb
import pytest

from swarmscope import Settings, Store, ingest, pairs
from swarmscope.engine import PairParams
from swarmscope.traces import TraceOptions, normalized_text_sql
from tests.conftest import run

CNT_DIR = "fixtures/coordination_network_toolkit"


def edge_nodes(store: Store, run_id: int) -> set[str]:
    rows = store.con.execute("SELECT account_a, account_b FROM edges WHERE run_id = ?",
                             [run_id]).fetchall()
    return {x for r in rows for x in r}


@pytest.mark.parametrize("window, min_weight, loops, nodes", [
    (1, 1, False, 2), (1, 2, False, 0), (60, 1, False, 6),
    (1, 1, True, 3), (1, 2, True, 1), (60, 1, True, 7)])
@pytest.mark.parametrize("threads", [1, 2])
def test_cnt_expected_node_counts(tmp_path, shared, window, min_weight, loops, nodes, threads):
    """EXPECTED.md: loop-free 2 / 0 / 6 nodes; with loops upstream's newer 3 / 1 / 7 (a message
    is never paired with itself); the same at any number of threads."""
    with Store(tmp_path / "s.duckdb", settings=Settings(threads=threads)) as store:
        ingest(store, [shared / CNT_DIR / "coretweet_test_input.csv"])
        r = pairs(store, PairParams(kind="repost", window=window, min_weight=min_weight,
                                    keep_loops=loops))
        assert len(edge_nodes(store, r.run_id)) == nodes


def test_cnt_expected_through_the_cli(db, shared):
    run("ingest", shared / CNT_DIR / "coretweet_test_input.csv", db=db)
    r = run("pairs", "--kind", "repost", "--window", "60", "--out", db.with_suffix(".parquet"),
            db=db)
    assert r.exit_code == 0, r.output
    assert "repost (sliding, window 60 s): 15 actions ->" in r.output
    nodes = duckdb.connect().execute(
        f"SELECT count(*) FROM (SELECT account_a FROM '{db.with_suffix('.parquet')}' UNION "
        f"SELECT account_b FROM '{db.with_suffix('.parquet')}')").fetchone()[0]
    assert nodes == 6


# -- coordination-network-toolkit 1.5.2 itself ----------------------------------------------------
def _cnt_edges(tmp_path: Path, csv_path: Path, command: str, window: int) -> dict:
    """Directed loop-free edges {(user_1, user_2): weight} from the toolkit's own code."""
    import coordination_network_toolkit as cnt
    from coordination_network_toolkit import compute_networks as cn
    from coordination_network_toolkit.preprocess import preprocess_csv_files
    db = str(tmp_path / f"cnt_{command}.db")
    preprocess_csv_files(db, [str(csv_path)])
    con = __import__("sqlite3").connect(db)
    con.execute("DELETE FROM message_url WHERE url = ''")   # its split('') of an empty field
    con.commit()
    {"co_retweet": cn.compute_co_retweet_parallel, "co_link": cn.compute_co_link_network,
     "co_tweet": cn.compute_co_tweet_network}[command](db, window, n_threads=1)
    table = cnt.database.COMMAND_TABLE_MAPPING[command]
    return {(u1, u2): w for u1, u2, w in con.execute(
        f"SELECT user_1, user_2, weight FROM {table} WHERE user_1 != user_2")}


def _our_edges(tmp_path: Path, csv_path: Path, kind: str, window: int) -> dict:
    with Store(tmp_path / f"ours_{kind}.duckdb") as store:
        report = ingest(store, [csv_path], format="cnt")
        assert not report.failed and report.files[0].rejected == 0
        r = pairs(store, PairParams(kind=kind, window=window),
                  options=TraceOptions(text_strip_urls=False))
        out = {}
        for a, b, wa, wb in store.con.execute(
                "SELECT account_a, account_b, a_actions, b_actions FROM edges WHERE run_id = ?",
                [r.run_id]).fetchall():
            out[(a, b)], out[(b, a)] = wa, wb
        return out


def _assert_same_edges(cnt: dict, ours: dict) -> None:
    """The toolkit keeps a directed edge whose weight >= 1; ours carries both directions."""
    assert cnt, "the comparison needs edges"
    assert {k: v for k, v in ours.items() if v >= 1} == cnt


@pytest.fixture(scope="module")
def sample_csv(tmp_path_factory, shared) -> Path:
    """sample_data.csv with its Python-list urls rewritten space-separated (EXPECTED.md)."""
    src = shared / CNT_DIR / "sample_data.csv"
    out = tmp_path_factory.mktemp("cnt") / "sample_space_urls.csv"
    with src.open(newline="") as fi, out.open("w", newline="") as fo:
        rows = csv.DictReader(fi)
        w = csv.DictWriter(fo, rows.fieldnames)
        w.writeheader()
        for row in rows:
            row["urls"] = " ".join(re.findall(r"'([^']*)'", row["urls"]))
            w.writerow(row)
    return out


@pytest.fixture(scope="module")
def ira_slice(tmp_path_factory, shared) -> Path:
    """10,000 consecutive real IRA rows (a busy stretch of October 2016) in the toolkit's CSV
    layout; retweets keyed by their normalised text, as neither tool has their source ids.
    Rows whose text normalises to nothing are left out (the toolkit would pair all of them)."""
    out = tmp_path_factory.mktemp("cnt") / "ira_10k.csv"
    norm = normalized_text_sql("content", strip_urls=False)
    duckdb.connect().execute(f"""
        COPY (SELECT row_number() OVER (ORDER BY publish_date, author, content) AS message_id,
                     author_id AS user_id, author AS username,
                     CASE WHEN post_type = 'R' THEN md5(lower(content)) END AS repost_id,
                     NULL AS reply_id, content AS message, epoch(publish_date) AS timestamp,
                     array_to_string(regexp_extract_all(content, 'https?://[^\\s]+'), ' ') AS urls
              FROM '{shared / "ira/ira_tweets.parquet"}'
              WHERE publish_date >= TIMESTAMP '2016-10-05' AND {norm} <> ''
              ORDER BY publish_date, author, content LIMIT 10000)
        TO '{out}' (HEADER)""")
    return out


@pytest.mark.parametrize("command, kind, window", [
    ("co_retweet", "repost", 60), ("co_link", "link", 60), ("co_tweet", "text", 60),
    ("co_retweet", "repost", 10)])
def test_same_edges_and_weights_as_the_toolkit_on_sample_data(tmp_path, sample_csv, command,
                                                              kind, window):
    # the synthetic sample's timestamps all fall within one second: every window holds all
    _assert_same_edges(_cnt_edges(tmp_path, sample_csv, command, window),
             _our_edges(tmp_path, sample_csv, kind, window))


def _ira_originals_sharing(shared: Path, out: Path, keys_sql: str) -> Path:
    """The real IRA original posts that share a key (from ``keys_sql``, a list per post) with
    another IRA account, in the toolkit's layout: IRA links are per-tweet t.co links and exact
    copies are spread over months, so a consecutive slice shares almost none."""
    duckdb.connect().execute(f"""
        COPY (WITH u AS (
                SELECT row_number() OVER (ORDER BY publish_date, author, content) AS message_id,
                       author_id AS user_id, author AS username, NULL AS repost_id,
                       NULL AS reply_id, content AS message, epoch(publish_date) AS timestamp,
                       regexp_extract_all(content, 'https?://[^\\s]+') AS links,
                       {keys_sql} AS keys
                FROM '{shared / "ira/ira_tweets.parquet"}' WHERE post_type <> 'R'),
              shared_keys AS (
                SELECT k FROM (SELECT user_id, unnest(keys) AS k FROM u)
                GROUP BY k HAVING count(DISTINCT user_id) > 1)
              SELECT * EXCLUDE (links, keys), array_to_string(links, ' ') AS urls FROM u
              WHERE message_id IN (SELECT message_id FROM (SELECT message_id, unnest(keys) AS k
                                                           FROM u) JOIN shared_keys USING (k))
              ORDER BY message_id LIMIT 10000)
        TO '{out}' (HEADER)""")
    return out


@pytest.fixture(scope="module")
def ira_links(tmp_path_factory, shared) -> Path:
    return _ira_originals_sharing(shared, tmp_path_factory.mktemp("cnt") / "links.csv", "links")


@pytest.fixture(scope="module")
def ira_texts(tmp_path_factory, shared) -> Path:
    norm = normalized_text_sql("content", strip_urls=False)
    return _ira_originals_sharing(shared, tmp_path_factory.mktemp("cnt") / "texts.csv",
                                  f"list_filter([{norm}], lambda x: x <> '')")


@pytest.mark.parametrize("window", [10, 60, 3600])
def test_same_co_retweet_edges_as_the_toolkit_on_real_ira_rows(tmp_path, ira_slice, window):
    _assert_same_edges(_cnt_edges(tmp_path, ira_slice, "co_retweet", window),
             _our_edges(tmp_path, ira_slice, "repost", window))


@pytest.mark.parametrize("window", [3600, 86400])
def test_same_co_link_edges_as_the_toolkit_on_real_ira_links(tmp_path, ira_links, window):
    _assert_same_edges(_cnt_edges(tmp_path, ira_links, "co_link", window),
             _our_edges(tmp_path, ira_links, "link", window))


@pytest.mark.parametrize("window", [3600, 86400])
def test_same_co_tweet_edges_as_the_toolkit_on_real_ira_texts(tmp_path, ira_texts, window):
    _assert_same_edges(_cnt_edges(tmp_path, ira_texts, "co_tweet", window),
             _our_edges(tmp_path, ira_texts, "text", window))


# -- CooRTweet 2.1.3 reference outputs ----------------------------------------------------------
@pytest.fixture(scope="module")
def coortweet_store(tmp_path_factory, shared):
    store = Store(tmp_path_factory.mktemp("coortweet") / "c.duckdb")
    ingest(store, [shared / "coortweet/russian_coord_tweets.csv.gz"])
    yield store
    store.close()


@pytest.mark.parametrize("tag, mp, tw, loops", [
    ("mp5_tw10_loops_removed", 5, 10, False), ("mp5_tw10_loops_kept", 5, 10, True),
    ("mp2_tw10_loops_removed", 2, 10, False), ("mp2_tw60_loops_removed", 2, 60, False)])
def test_coortweet_reference_networks(coortweet_store, shared, tag, mp, tw, loops):
    ref_dir = shared / "peer_reference"
    ref_file = next(ref_dir.glob(f"russian_coord_tweets_network_{tag}_edges.csv*"))
    ref = {(min(f, t), max(f, t)): (w, d) for f, t, w, d in duckdb.connect().execute(
        f"SELECT \"from\", \"to\", weight, avg_time_delta FROM read_csv('{ref_file}')").fetchall()}
    r = pairs(coortweet_store, PairParams(kind="repost", window=tw, semantics="coortweet",
                                          min_participation=mp, keep_loops=loops))
    ours = {(min(a, b), max(a, b)): (w, d) for a, b, w, d in coortweet_store.con.execute(
        "SELECT account_a, account_b, weight, mean_dt_s FROM edges WHERE run_id = ?",
        [r.run_id]).fetchall()}
    assert set(ours) == set(ref)
    assert all(ours[k][0] == ref[k][0] and ours[k][1] == pytest.approx(ref[k][1]) for k in ref)


def test_coortweet_loop_rule_of_its_own_test(coortweet_store):
    """CooRTweet's test: with loops removed this account is absent, with loops kept present."""
    acct = "9fa51ef17278c01d13d313741eddfc0b"
    for loops, present in ((False, False), (True, True)):
        r = pairs(coortweet_store, PairParams(kind="repost", window=10, semantics="coortweet",
                                              min_participation=5, keep_loops=loops))
        n = coortweet_store.con.execute(
            "SELECT count(*) FROM edges WHERE run_id = ? AND ? IN (account_a, account_b)",
            [r.run_id, acct]).fetchone()[0]
        assert (n > 0) == present


@pytest.mark.parametrize("tag, mp, tw", [("mp2_tw10_loops_removed", 2, 10),
                                         ("mp2_tw60_loops_removed", 2, 60)])
def test_coortweet_edge_weight_quantile(coortweet_store, shared, tag, mp, tw):
    """--weight-quantile 0.5 keeps exactly CooRTweet's edges with weight_threshold = 1."""
    ref_file = next((shared / "peer_reference").glob(f"russian_coord_tweets_network_{tag}_edges.csv*"))
    ref = {(min(f, t), max(f, t)) for f, t in duckdb.connect().execute(
        f"SELECT \"from\", \"to\" FROM read_csv('{ref_file}') WHERE weight_threshold = 1"
    ).fetchall()}
    r = pairs(coortweet_store, PairParams(kind="repost", window=tw, semantics="coortweet",
                                          min_participation=mp), weight_quantile=0.5)
    ours = {(min(a, b), max(a, b)) for a, b in coortweet_store.con.execute(
        "SELECT account_a, account_b FROM edges WHERE run_id = ?", [r.run_id]).fetchall()}
    assert ref and ours == ref and r.edges == len(ref)
