"""The co-action engine's behaviour: evidence, leader/follower, popular objects, trace kinds."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from swarmscope import Store, ingest, pairs
from swarmscope.engine import PairParams
from swarmscope.engine.sql import windowed_join
from swarmscope.ingest.normalize import SNOWFLAKE_EPOCH_MS
from swarmscope.traces import KINDS, build_traces

from conftest import copy_store

HEADER = "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n"


@pytest.fixture(scope="module")
def cnt_store(tmp_path_factory, shared):
    store = Store(tmp_path_factory.mktemp("cnt") / "s.duckdb")
    ingest(store, [shared / "fixtures/coordination_network_toolkit/coretweet_test_input.csv"])
    yield store
    store.close()


def test_evidence_is_real_co_actions(cnt_store):
    r = pairs(cnt_store, PairParams(kind="repost", window=60, evidence=None))
    rows = cnt_store.con.execute("""
        SELECT v.account_a, v.account_b, v.dt_s, pa.account_id, pb.account_id,
               pa.parent_post_id, pb.parent_post_id, v.object,
               abs(epoch(pa.created_at) - epoch(pb.created_at))
        FROM evidence v JOIN posts pa ON pa.post_id = v.post_a JOIN posts pb ON pb.post_id = v.post_b
        WHERE v.run_id = ?""", [r.run_id]).fetchall()
    assert rows
    for a, b, dt, pa_acc, pb_acc, pa_obj, pb_obj, obj, real_dt in rows:
        assert (pa_acc, pb_acc) == (a, b) and pa_obj == pb_obj == obj
        assert dt == real_dt <= 60
    per_edge = cnt_store.con.execute("""
        SELECT any_value(e.events), count(v.object)
        FROM edges e JOIN evidence v USING (run_id, account_a, account_b)
        WHERE e.run_id = ? GROUP BY account_a, account_b""", [r.run_id]).fetchall()
    assert all(events == n for events, n in per_edge)      # evidence=None: every event


def test_evidence_is_bounded_and_closest_first(cnt_store):
    r = pairs(cnt_store, PairParams(kind="repost", window=3600, evidence=1))
    n_edges, n_ev = cnt_store.con.execute(
        "SELECT (SELECT count(*) FROM edges WHERE run_id = $1), "
        "(SELECT count(*) FROM evidence WHERE run_id = $1)", [r.run_id]).fetchone()
    assert n_ev == n_edges
    closest = cnt_store.con.execute("""
        SELECT bool_and(v.dt_s = e.min_dt_s) FROM evidence v JOIN edges e
        USING (run_id, account_a, account_b) WHERE run_id = ?""", [r.run_id]).fetchone()[0]
    assert closest


def test_leader_follower_and_symmetry(cnt_store):
    r = pairs(cnt_store, PairParams(kind="repost", window=60, evidence=None))
    for ev, af, bf, ties, sym, wa, wb in cnt_store.con.execute("""
            SELECT any_value(e.events), any_value(e.a_first), any_value(e.b_first),
                   count(*) FILTER (WHERE v.dt_s = 0), any_value(e.symmetry),
                   any_value(e.a_actions), any_value(e.b_actions)
            FROM edges e JOIN evidence v USING (run_id, account_a, account_b)
            WHERE run_id = ? GROUP BY account_a, account_b""", [r.run_id]).fetchall():
        assert af + bf + ties == ev
        assert sym == min(wa, wb) / max(wa, wb)


def test_time_range(cnt_store):
    full = pairs(cnt_store, PairParams(kind="repost", window=60))
    part = pairs(cnt_store, PairParams(kind="repost", window=60),
                 since=datetime(1970, 1, 1, 0, 1), until=datetime(1970, 1, 1, 0, 5))
    assert 0 < part.traces < full.traces


# -- popular objects --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    """100,000 accounts repost one object inside one minute, beside a small group of 5 accounts
    that co-repost 20 objects and also join the crowd."""
    path = tmp_path_factory.mktemp("popular") / "planted.csv"
    duckdb.connect().execute(f"""
        COPY (
            SELECT 'crowd' || i AS message_id, 'c' || i AS user_id, 'c' || i AS username,
                   'viral' AS repost_id, NULL AS reply_id, 'rt' AS message,
                   1600000000 + i % 60 AS timestamp, '' AS urls
            FROM range(100000) t(i)
            UNION ALL
            SELECT 'g' || g || '-' || o, 'g' || g, 'g' || g, 'obj' || o, NULL, 'rt',
                   1600001000 + o * 300 + g, ''
            FROM range(5) a(g), range(20) b(o)
            UNION ALL
            SELECT 'gv' || g, 'g' || g, 'g' || g, 'viral', NULL, 'rt', 1600000010 + g, ''
            FROM range(5) a(g))
        TO '{path}' (HEADER)""")
    return path


# the child's own high-water mark (VmHWM starts afresh at exec; ru_maxrss would carry over the
# size of the pytest process that forked it)
PEAK_RSS = ("import re, runpy, sys\n"
            "try:\n    runpy.run_module('swarmscope', run_name='__main__')\n"
            "finally:\n    status = open('/proc/self/status').read()\n"
            "    print('peak_kib', re.search(r'VmHWM:\\s+(\\d+)', status).group(1), file=sys.stderr)")


def _pairs_subprocess(db: Path, *args: str) -> tuple[subprocess.CompletedProcess, int]:
    """Run ``swarmscope pairs`` in a child with a 500 MB engine limit; returns its peak RSS."""
    (db.parent / "spill").mkdir(exist_ok=True)   # a missing --temp-dir is refused at open
    argv = ["--db", str(db), "--memory-limit", "500MB", "--temp-dir", str(db.parent / "spill"),
            "pairs", "--kind", "repost", "--window", "60", *args]
    proc = subprocess.run([sys.executable, "-c", PEAK_RSS, *argv], capture_output=True,
                          text=True, timeout=300)
    peak_kib = int(proc.stderr.rsplit("peak_kib", 1)[1])
    return proc, peak_kib // 1024


def test_a_hugely_popular_object_is_aggregated_in_bounded_memory(tmp_path, planted):
    db = tmp_path / "p.duckdb"
    with Store(db) as s:
        ingest(s, [planted])
    proc, peak_mib = _pairs_subprocess(db)
    assert proc.returncode == 0, proc.stderr
    n = 100_005                                  # all within one minute: every pair is in window
    assert (f"popular object viral: {n:,} accounts, {n:,} actions, {n * (n - 1) // 2:,} pairs "
            "in the window; aggregated without listing its pairs") in proc.stdout
    assert peak_mib < 1500
    with Store(db, read_only=True) as s:
        edges = s.con.execute("SELECT account_a, account_b, shared_objects, events, "
                              "popular_events FROM edges").fetchall()
        assert len(edges) == 10                                     # the group's 5·4/2 pairs
        assert all(e[2] == 20 and e[3] == 20 and e[4] == 1 for e in edges)
        assert s.con.execute("SELECT mode, accounts FROM popular_objects").fetchall() == \
            [("aggregated", 100_005)]


def test_a_user_cap_reports_the_popular_object_and_leaves_it_out(tmp_path, planted):
    db = tmp_path / "p.duckdb"
    with Store(db) as s:
        ingest(s, [planted])
    proc, _ = _pairs_subprocess(db, "--max-object-accounts", "1000")
    assert proc.returncode == 0, proc.stderr
    assert "left out (more accounts than --max-object-accounts)" in proc.stdout
    with Store(db, read_only=True) as s:
        assert s.con.execute("SELECT sum(popular_events), count(*) FROM edges").fetchone() == (0, 10)
        assert s.con.execute("SELECT mode, accounts, actions FROM popular_objects").fetchall() == \
            [("capped", 100_005, 100_005)]


# -- trace kinds on real data -------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_store(tmp_path_factory, demo_ingested):
    """The bundled demo (a real IRA week inside the real Higgs week), a copy of the ingested
    store (traces are temporary tables: the copy is not changed)."""
    store = Store(copy_store(demo_ingested, tmp_path_factory.mktemp("demo")))
    yield store
    store.close()


# the demo (Twitter, as released) has no fast reposts, replies, images or likes
@pytest.mark.parametrize("kind", [k for k in KINDS
                                  if k not in ("fast_repost", "reply", "image", "like")])
def test_every_trace_kind_has_traces_on_the_demo(demo_store, kind):
    n = build_traces(demo_store.db, kind)
    assert n > 0
    bad = demo_store.con.execute(
        "SELECT count(*) FROM traces t LEFT JOIN posts p ON p.post_key = t.post "
        "WHERE t.kind = ? AND p.post_id IS NULL", [kind]).fetchone()[0]
    assert bad == 0


@pytest.mark.parametrize("window_ms", [0, 1000, 60_000])
def test_the_bucketed_join_finds_each_pair_within_the_window_once(demo_store, window_ms):
    """``windowed_join`` against the join on the object alone with the window as a filter, on
    the demo's real retweets of its last three days (after the 4 July burst): the same (post,
    post) pairs, each exactly once, those exactly one window apart included, while the
    object-only join lists many more."""
    build_traces(demo_store.db, "repost")
    con = demo_store.con
    con.execute("CREATE OR REPLACE TEMP TABLE rt AS SELECT object, post, ts FROM traces "
                "WHERE ts >= (SELECT min(ts) FROM traces) + 4 * 86400000")
    joined = windowed_join(demo_store.db, "rt", "rt", window_ms)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE via_buckets AS SELECT l.post AS pl, r.post AS pr,
                    abs(r.ts - l.ts) AS dt FROM {joined}""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE via_object AS SELECT l.post AS pl, r.post AS pr,
                    abs(r.ts - l.ts) AS dt FROM rt l JOIN rt r ON l.object = r.object
                    AND r.ts BETWEEN l.ts - {window_ms} AND l.ts + {window_ms}""")
    only_b, only_o, n, at_edge, listed = con.execute(f"""
        SELECT (SELECT count(*) FROM (FROM via_buckets EXCEPT ALL FROM via_object)),
               (SELECT count(*) FROM (FROM via_object EXCEPT ALL FROM via_buckets)),
               (SELECT count(*) FROM via_object),
               (SELECT count(*) FROM via_buckets WHERE dt = {window_ms} AND pl <> pr),
               (SELECT sum(n * n) FROM (SELECT count(*) AS n FROM rt GROUP BY object))
        """).fetchone()
    con.execute("DROP TABLE rt; DROP TABLE via_buckets; DROP TABLE via_object")
    assert (only_b, only_o) == (0, 0) and n > 0
    assert at_edge > 0
    assert listed > 2 * n, (listed, n)


def test_repost_objects_by_source(demo_store):
    build_traces(demo_store.db, "repost")
    kinds = dict(demo_store.con.execute("""
        SELECT split_part(o.value, ':', 1), count(*) FROM traces t
        JOIN trace_objects o ON o.kind = t.kind AND o.object_key = t.object
        WHERE t.kind = 'repost' GROUP BY 1""").fetchall())
    assert set(kinds) == {"text", "account"}       # IRA: by text; Higgs: by source account


def test_fast_repost_uses_the_originals_snowflake_time(tmp_path):
    def sid(ms: int) -> str:
        return str((ms - SNOWFLAKE_EPOCH_MS) << 22)
    t0 = 1_600_000_000_000
    rows = [f"1,u1,a,{sid(t0)},,rt,{(t0 + 5_000) / 1000},", f"2,u2,b,{sid(t0)},,rt,{(t0 + 30_000) / 1000},",
            f"3,u3,c,{sid(t0)},,rt,{(t0 + 600_000) / 1000},"]
    path = tmp_path / "fast.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    with Store(tmp_path / "f.duckdb") as s:
        ingest(s, [path])
        s.con.execute("UPDATE posts SET parent_account_id = 'orig'")
        assert build_traces(s.db, "fast_repost") == 2           # u3 reposted 10 minutes later
        r = pairs(s, PairParams(kind="fast_repost", window=60))
        assert s.con.execute("SELECT account_a, account_b FROM edges WHERE run_id = ?",
                             [r.run_id]).fetchall() == [("u1", "u2")]


def test_an_account_that_reposts_an_object_twice_counts_both_posts(tmp_path):
    rows = ["1,a,a,x,,rt,0,", "2,a,a,x,,rt,10,", "3,b,b,x,,rt,5,", "4,a,a,y,,rt,100,",
            "5,b,b,y,,rt,101,"]
    path = tmp_path / "twice.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    with Store(tmp_path / "t.duckdb") as s:
        ingest(s, [path])
        r = pairs(s, PairParams(kind="repost", window=60))
        assert s.con.execute(
            "SELECT account_a, account_b, events, shared_objects, a_actions, b_actions, weight "
            "FROM edges WHERE run_id = ?", [r.run_id]).fetchall() == [("a", "b", 3, 2, 3, 2, 3)]


def test_timefree_cosine(tmp_path):
    rows = ["1,a,a,x,,rt,1,", "2,a,a,y,,rt,2,", "3,b,b,x,,rt,1000000,", "4,b,b,y,,rt,9,",
            "5,c,c,x,,rt,3,", "6,d,d,z,,rt,3,"]
    path = tmp_path / "tf.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    with Store(tmp_path / "t.duckdb") as s:
        ingest(s, [path])
        r = pairs(s, PairParams(kind="repost", window=0, semantics="timefree"))
        got = dict(((a, b), w) for a, b, w in s.con.execute(
            "SELECT account_a, account_b, weight FROM edges WHERE run_id = ?", [r.run_id]).fetchall())
    assert got[("a", "b")] == pytest.approx(1.0)          # identical vectors, whatever the times
    assert 0 < got[("a", "c")] < 1 and ("a", "d") not in got


def test_cosine_on_windowed_edges_is_the_timefree_cosine(cnt_store):
    w = pairs(cnt_store, PairParams(kind="repost", window=60, cosine=True))
    tf = pairs(cnt_store, PairParams(kind="repost", window=0, semantics="timefree"))
    rows = cnt_store.con.execute("""
        SELECT a.cosine, b.weight FROM edges a JOIN edges b USING (account_a, account_b)
        WHERE a.run_id = ? AND b.run_id = ?""", [w.run_id, tf.run_id]).fetchall()
    assert rows and all(c == pytest.approx(x) for c, x in rows)
