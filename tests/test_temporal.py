"""Temporal signals: fingerprints, BLOC similarity, working zones, shift work (known answers on
synthetic data, a planted shift operation through ingest and detect, IRA NewsFeed on real
data)."""

from __future__ import annotations

import importlib.util

import duckdb
import numpy as np
import pytest

from swarmscope import Store
from swarmscope.report import report_data
from swarmscope.signals.shifts import _segments
from swarmscope.signals.fingerprints import bloc_similarity, build_fingerprints
from swarmscope.signals.zones import account_zones, active_span, infer_zones
from swarmscope.store.backend import DuckDBBackend

from conftest import ROOT, run

T0 = 1_341_100_800  # 2012-07-01 00:00 UTC


def _bench():
    spec = importlib.util.spec_from_file_location("planted_shifts",
                                                  ROOT / "bench" / "planted_shifts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _posts_con(rows: list[tuple[str, int, str]], locations: dict[str, str] | None = None):
    """An in-memory connection with ``posts``, ``accounts`` and ``account_keys`` holding
    ``rows`` (account, epoch seconds, kind)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE raw (account_id VARCHAR, ts BIGINT, kind VARCHAR)")
    con.executemany("INSERT INTO raw VALUES (?, ?, ?)", rows)
    con.execute("""
        CREATE TABLE account_keys AS SELECT row_number() OVER (ORDER BY account_id)::INTEGER
            AS account_key, 'x' AS platform, account_id FROM (SELECT DISTINCT account_id FROM raw);
        CREATE TABLE posts AS SELECT k.account_key, k.platform, r.account_id,
            make_timestamp(r.ts * 1000000) AS created_at, r.kind, NULL::VARCHAR AS parent_account_id,
            'p' || row_number() OVER () AS post_id FROM raw r JOIN account_keys k USING (account_id);
        CREATE TABLE accounts (platform VARCHAR, account_id VARCHAR, reported_location VARCHAR);""")
    if locations:
        con.executemany("INSERT INTO accounts VALUES ('x', ?, ?)", list(locations.items()))
    return con


def _office(account: str, zone: int, days: int, rng, start: int = 9, hours: int = 8):
    """Posts at random times within [start, start + hours) local time in UTC+zone, 3 an hour."""
    out = []
    for d in range(days):
        begin = T0 + d * 86400 + (start - zone) * 3600
        out += [(account, int(t), "post") for t in begin + rng.uniform(0, hours * 3600, 3 * hours)]
    return out


def test_office_hours_in_utc_plus_one_give_zone_plus_one_and_a_claimed_tehran_is_flagged():
    rng = np.random.default_rng(1)
    rows = (_office("berlin", 1, 5, rng) + _office("claims_tehran", 1, 5, rng)
            + _office("tokyo", 9, 5, rng) + _office("quiet", 1, 1, rng)[:5])
    con = _posts_con(rows, {"berlin": "Berlin, Germany", "claims_tehran": "Tehran, Iran",
                            "tokyo": "東京 Tokyo"})
    assert build_fingerprints(DuckDBBackend(con)) == 3  # "quiet" has 5 posts: no fingerprint
    account_zones(DuckDBBackend(con))
    z = {r[0]: r[1:] for r in con.sql("""
        SELECT k.account_id, zone_offset, zone_rhythm, claimed_offset, zone_mismatch,
               mismatch_strength, active_hours
        FROM account_zones JOIN account_keys k ON k.account_key = account""").fetchall()}
    assert z["berlin"][:4] == (1.0, "office", 1.0, False)
    assert z["claims_tehran"][:4] == (1.0, "office", 3.5, True)
    assert z["claims_tehran"][4] > 0.2
    assert z["tokyo"][:4] == (9.0, "office", 9.0, False)
    assert all(7 <= v[5] <= 8 for v in z.values()), z


def test_zone_templates_and_active_span_on_known_rhythms():
    night_owl = np.zeros(24)
    night_owl[(np.arange(10, 24) - 3) % 24] = 1  # awake 10:00-24:00 local in UTC+3: asleep 0-10
    flat = np.ones(24)
    zones = infer_zones(np.stack([night_owl, flat]), np.array([3.0, 0.0]))
    assert np.isnan(zones["zone_fit"][1])  # no rhythm, no zone
    assert zones["zone_rhythm"][0] == "day" and zones["zone_gap_hours"][0] <= 3
    start, length = active_span(np.stack([night_owl, flat]))
    assert (start[0], length[0]) == (7, 13) and length[1] == 22


def test_segments_chain_start_hours_round_the_clock():
    groups = _segments(np.array([8, 9, 16, 17, 0, 23, 8]))
    assert sorted(sorted(int(i) for i in g) for g in groups) == [[0, 1, 6], [2, 3], [4, 5]]
    assert len(_segments(np.array([5, 7, 9, 11, 13]))) == 1


def test_bloc_strings_and_similarity():
    rows = []
    for a in ("a", "b"):  # the same rhythm: post, repost a minute later, then pauses
        for d in range(12):
            rows += [(a, T0 + d * 7200, "post"), (a, T0 + d * 7200 + 30, "repost")]
    rows += [("c", T0 + d * 40_000, "reply") for d in range(24)]
    con = _posts_con(rows)
    build_fingerprints(DuckDBBackend(con))
    bloc = dict(con.sql("SELECT k.account_id, bloc FROM fingerprints "
                        "JOIN account_keys k ON k.account_key = account").fetchall())
    assert bloc["a"].startswith("T□r⚁T□r") and bloc["a"] == bloc["b"]
    assert bloc["c"].startswith("p⚁p⚁p")
    bloc_similarity(DuckDBBackend(con), "SELECT account_key AS account, 1 AS group_id FROM account_keys")
    sim = dict(con.sql("SELECT k.account_id, bloc_similarity FROM bloc_members "
                       "JOIN account_keys k ON k.account_key = account").fetchall())
    assert sim["a"] == pytest.approx(sim["b"]) and sim["a"] > 0.45 > sim["c"]
    mean = con.sql("SELECT bloc_similarity FROM bloc_groups").fetchall()[0][0]
    assert mean == pytest.approx(sum(sim.values()) / 3)


@pytest.mark.parametrize("shifts", [True, False])
def test_planted_three_shift_operation_through_detect(tmp_path, db, shifts):
    bench = _bench()
    planted = tmp_path / "planted.csv"
    roster = bench.plant(planted, 15, shifts=shifts, days=3)
    assert run("ingest", planted, "--format", "table",
               *[x for m in bench.MAPS for x in ("--map", m)], db=db).exit_code == 0
    assert run("detect", "--out", tmp_path / "out", db=db).exit_code == 0
    con = duckdb.connect(str(db), read_only=True)
    ops = con.sql("SELECT operation_id, members, shift_structure, shift_segments, handoffs, "
                  "zone_offset, claimed_offset, zone_mismatch, coverage_hours "
                  "FROM detect_operations ORDER BY members DESC").fetchall()
    op, members, structure, segments, handoffs, zone, claimed, mismatch, coverage = ops[0]
    assert members == len(roster) and claimed == 3.5 and coverage >= 22
    assert (tmp_path / "out" / "shifts.parquet").exists()
    if not shifts:
        assert (structure, segments, handoffs) == (False, 0, 0)
        assert con.sql("SELECT count(*) FROM detect_shifts").fetchall()[0][0] == 0
        return
    assert (structure, segments, zone, mismatch) == (True, 3, 1.0, True)
    assert handoffs >= 3
    seg = con.sql(f"SELECT start_local, hours FROM detect_shifts WHERE operation_id = {op} "
                  "ORDER BY start_local").fetchall()
    # planted: 01, 09 and 17 local; crews come up to 40 min early, so a start may read an hour
    # earlier
    assert all(p - 1 <= s <= p for (s, _), p in zip(seg, (1, 9, 17))), seg
    assert all(8 <= h <= 10 for _, h in seg), seg
    # every recovered segment holds one crew only
    crews = con.sql(f"SELECT shift_segment, list(account_id) FROM detect_fingerprints "
                    f"WHERE operation_id = {op} GROUP BY ALL").fetchall()
    assert all(len({roster[a] for a in accounts}) == 1 for _, accounts in crews)
    hours = con.sql(f"SELECT count(*), count(DISTINCT account_id) FROM detect_shift_hours "
                    f"WHERE operation_id = {op}").fetchall()[0]
    assert hours == (24 * len(roster), len(roster))
    day_worker = next(a for a, c in roster.items() if c == 0)
    con.close()
    shown = run("explain", day_worker, db=db).stdout
    assert "zone UTC+1 (office rhythm" in shown and "MISMATCH" in shown and "BLOC: " in shown
    with Store(db, read_only=True) as store:
        cards = report_data(store)["clusters"]
    rhythms = [c["rhythm"] for c in cards]
    assert len(cards) == 3 and all(r["operation"] == op and r["shifts"] for r in rhythms)
    assert [s[0] for s in rhythms[0]["segments"]] == [1, 2, 3]


def test_ira_newsfeed_accounts_post_on_schedules(shared):
    """Real data: IRA NewsFeed accounts (automated local-news feeds) post round the clock at
    regular intervals; the English-language troll categories post in bursts within fewer hours."""
    con = duckdb.connect()
    con.execute(f"""
        CREATE TABLE posts AS
        SELECT dense_rank() OVER (ORDER BY author)::INTEGER AS account_key, author AS account_id,
               account_category, publish_date AS created_at,
               CASE post_type WHEN 'R' THEN 'repost' WHEN 'Q' THEN 'quote' ELSE 'post' END AS kind,
               NULL::VARCHAR AS parent_account_id, row_number() OVER () AS post_id
        FROM '{shared / "ira" / "ira_tweets.parquet"}'
        WHERE account_category IN ('NewsFeed', 'RightTroll', 'LeftTroll', 'HashtagGamer',
                                   'Fearmonger')
          AND publish_date >= '2016-06-01' AND publish_date < '2016-10-01'""")
    assert build_fingerprints(DuckDBBackend(con), min_posts=50) > 150
    t = con.sql("""SELECT any_value(p.account_category) AS cat, any_value(f.burstiness) AS b,
                          any_value(f.hour_of_day) AS h
                   FROM fingerprints f JOIN posts p ON p.account_key = f.account
                   GROUP BY f.account""").fetchall()
    cats = np.array([r[0] for r in t])
    burst = np.array([np.nan if r[1] is None else r[1] for r in t])
    _, span = active_span(np.array([r[2] for r in t], float))
    news = cats == "NewsFeed"
    assert news.sum() >= 10
    for other in ("RightTroll", "LeftTroll", "HashtagGamer", "Fearmonger"):
        group = cats == other
        if group.sum() < 5:
            continue
        assert np.nanmedian(burst[news]) < np.nanmedian(burst[group]) - 0.15, other
        assert np.median(span[news]) > np.median(span[group]), other


def test_detect_with_no_account_to_fingerprint_writes_empty_tables(tmp_path, db):
    path = tmp_path / "tiny.csv"
    path.write_text("message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n"
                    "1,a,a,x,,rt,1600000000,\n2,b,b,x,,rt,1600000005,\n"
                    "3,a,a,y,,rt,1600000100,\n4,b,b,y,,rt,1600000101,\n")
    assert run("ingest", path, db=db).exit_code == 0
    assert run("detect", "--out", tmp_path / "out", db=db).exit_code == 0
    con = duckdb.connect(str(db), read_only=True)
    for table in ("detect_fingerprints", "detect_operations", "detect_shifts",
                  "detect_shift_hours"):
        assert con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0] == 0
    assert (tmp_path / "out" / "fingerprints.parquet").exists()
