"""Unit tests of detection/affiliation.py on synthetic traces: an outside account that co-acts
with a cluster's members is recruited into it, one that acts on the same objects at other
times is not, recruitment snowballs and stops at the first round that adds nobody."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from scipy import stats as sps

from swarmscope.detection.affiliation import affiliate, affiliation_tests
from swarmscope.detection.significance import NullParams
from swarmscope.store.backend import DuckDBBackend
from swarmscope.traces import replace_traces

HOUR = 3_600_000
SPAN = 48 * HOUR
WINDOW_S = 3600.0
CLUSTERS = {1: [1, 2, 3, 4, 5], 2: [6, 7, 8, 9]}
BACKGROUND = list(range(100, 140))
COACTOR, INDEPENDENT, CHAINED = 10, 11, 12


def synthetic_traces(seed: int = 0) -> list[tuple[int, int, int]]:
    """(account, object, ts ms): members and background act at random; COACTOR follows 30
    actions of cluster 2's members (and 2 of cluster 1's) on their objects within 2-30 s;
    INDEPENDENT acts 100 times on the members' objects at random times (so it co-acts with
    them by chance within the hour); CHAINED follows COACTOR on 20 objects no member
    touches."""
    rng = np.random.default_rng(seed)
    rows = []
    for acc in [m for ms in CLUSTERS.values() for m in ms]:
        rows += [(acc, int(o), int(t)) for o, t in zip(rng.integers(1000, 1300, 40),
                                                      rng.integers(0, SPAN, 40))]
    for acc in BACKGROUND:
        rows += [(acc, int(o), int(t)) for o, t in zip(rng.integers(0, 1300, 60),
                                                      rng.integers(0, SPAN, 60))]
    members = {m: c for c, ms in CLUSTERS.items() for m in ms}

    def follow(events, n, lo_ms, hi_ms):
        seen, out = set(), []
        for i in rng.permutation(len(events)):
            _, o, t = events[i]
            if o not in seen and len(out) < n:
                seen.add(o)
                out.append((o, t + int(rng.integers(lo_ms, hi_ms))))
        return out

    of = lambda c: [r for r in rows if members.get(r[0]) == c]  # noqa: E731
    rows += [(COACTOR, o, t) for o, t in follow(of(2), 30, 2000, 30000)]
    rows += [(COACTOR, o, t) for o, t in follow(of(1), 2, 2000, 30000)]
    rows += [(INDEPENDENT, int(o), int(t)) for o, t in zip(rng.integers(1000, 1300, 100),
                                                         rng.integers(0, SPAN, 100))]
    own = [(COACTOR, 2000 + i, int(t)) for i, t in enumerate(rng.integers(0, SPAN, 20))]
    rows += own + [(CHAINED, o, t + int(rng.integers(5000, 30000))) for _, o, t in own]
    return rows


def load(backend, rows) -> None:
    backend.register_arrow("synthetic", pa.table({
        "account": pa.array([r[0] for r in rows], pa.int32()),
        "object": pa.array([r[1] for r in rows], pa.int64()),
        "ts": pa.array([r[2] for r in rows], pa.int64())}))
    replace_traces(backend, "hashtag", "SELECT account, object, row_number() OVER "
                                       "(ORDER BY ts, account, object) AS post, ts FROM synthetic")
    members = [(m, c) for c, ms in CLUSTERS.items() for m in ms]
    backend.register_arrow("cluster_members", pa.table({
        "account": pa.array([m for m, _ in members], pa.int32()),
        "cluster_id": pa.array([c for _, c in members], pa.int64())}))
    accounts = sorted({r[0] for r in rows})
    backend.register_arrow("account_scores", pa.table({
        "account": pa.array(accounts, pa.int32()),
        "score": pa.array([0.9 if a < 10 else 0.1 for a in accounts], pa.float64()),
        "flagged": pa.array([a < 10 for a in accounts], pa.bool_())}))


def co_acted_objects(rows, account: int, cluster: int) -> int:
    """x by its definition: the distinct objects of ``account`` that a member of ``cluster``
    also acted on within the window."""
    w = WINDOW_S * 1000
    member_acts = [(o, t) for a, o, t in rows if a in CLUSTERS[cluster]]
    return len({o for a, o, t in rows if a == account
                for mo, mt in member_acts if mo == o and abs(mt - t) <= w})


@pytest.fixture
def loaded():
    con = duckdb.connect()
    backend = DuckDBBackend(con)
    rows = synthetic_traces()
    load(backend, rows)
    yield backend, rows
    con.close()


def test_affiliation_tests_x_and_p(loaded):
    """One round of tests: every (outside account, cluster) with x >= 2 is a row, x is the
    count of co-acted objects by definition, mu > 0 and p = P(Poisson(mu) >= x) in [0, 1];
    the co-actor has x = 30 with cluster 2 and a p far below the others' (the independent
    account among them)."""
    backend, rows = loaded
    affiliation_tests(backend, "hashtag", WINDOW_S, NullParams())
    got = backend.to_arrow("SELECT * FROM affiliation_tests ORDER BY account, cluster_id")
    tested = got.to_pylist()
    members = {m for ms in CLUSTERS.values() for m in ms}
    expected = {(a, c): co_acted_objects(rows, a, c) for a in {r[0] for r in rows} - members
                for c in CLUSTERS}
    assert {(r["account"], r["cluster_id"]): r["x"] for r in tested} == {
        k: x for k, x in expected.items() if x >= 2}
    assert expected[(COACTOR, 2)] == 30 and expected[(CHAINED, 1)] == 0
    for r in tested:
        assert r["kind"] == "hashtag" and r["window_s"] == WINDOW_S
        assert r["mu"] > 0 and 0 <= r["p"] <= 1
        assert r["p"] == pytest.approx(sps.poisson.sf(r["x"] - 1, r["mu"]), rel=1e-9)
    best, *others = sorted(tested, key=lambda r: r["p"])
    assert (best["account"], best["cluster_id"]) == (COACTOR, 2) and best["p"] < 1e-10
    assert min(r["p"] for r in others) > 1e-3
    assert INDEPENDENT in {r["account"] for r in others}  # tested, by chance co-action
    assert not backend.has_table("aff_x")  # intermediates dropped


def test_affiliate_recruits_co_actor_then_chain_then_stops(loaded):
    """affiliate: round 1 recruits the co-actor into cluster 2 (its smallest p), round 2 the
    account that co-acts only with the co-actor, round 3 recruits nobody and ends the loop
    (no round 4 though 5 are allowed); the independent account is never recruited; recruits
    join cluster_members and are flagged in account_scores with the larger score."""
    backend, _ = loaded
    progress: list[str] = []
    recruited = affiliate(backend, [("hashtag", WINDOW_S)], NullParams(), fdr=0.05, rounds=5,
                          progress=progress.append)
    assert recruited == 2
    assert [s.split(":")[0] for s in progress] == [f"affiliation round {i}" for i in (1, 2, 3)]
    aff = backend.to_arrow("SELECT * FROM affiliation ORDER BY account").to_pylist()
    assert [(r["account"], r["cluster_id"], r["round"]) for r in aff] == [(COACTOR, 2, 1),
                                                                        (CHAINED, 2, 2)]
    for r in aff:
        assert 0 <= r["p"] <= r["q"] <= 0.05 and r["x"] >= 2 and r["score"] >= 0.5
    members = dict(backend.query("SELECT account, cluster_id FROM cluster_members"))
    assert members[COACTOR] == 2 and members[CHAINED] == 2 and INDEPENDENT not in members
    assert len(members) == 9 + 2
    scores = {a: (s, f) for a, s, f in backend.query("SELECT account, score, flagged "
                                                     "FROM account_scores")}
    assert scores[COACTOR][1] and scores[CHAINED][1] and scores[COACTOR][0] >= 0.5
    assert scores[INDEPENDENT] == (0.1, False) and scores[1] == (0.9, True)
    p = backend.to_arrow("SELECT p FROM affiliation_tests").column("p").to_numpy()
    assert ((p >= 0) & (p <= 1)).all()


def test_affiliate_with_one_round_and_without_clusters(loaded):
    """rounds=1 stops after the co-actor (the chained account needs a second round); with
    no cluster members nothing is tested and nobody is recruited."""
    backend, _ = loaded
    assert affiliate(backend, [("hashtag", WINDOW_S)], NullParams(), 0.05, rounds=1) == 1
    assert backend.query("SELECT account FROM affiliation") == [(COACTOR,)]
    backend.execute("DELETE FROM cluster_members")
    assert affiliate(backend, [("hashtag", WINDOW_S)], NullParams(), 0.05, rounds=3) == 0
    assert backend.scalar("SELECT count(*) FROM affiliation") == 0
