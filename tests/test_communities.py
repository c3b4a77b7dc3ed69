"""Unit tests of detection/communities.py on hand-built graphs: Leiden clusters of the flagged
accounts and the per-cluster summary."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import duckdb
import networkx as nx
import pyarrow as pa
import pytest

from swarmscope.detection.communities import cluster_summaries, leiden_clusters
from swarmscope.store.backend import DuckDBBackend


@pytest.fixture
def backend():
    con = duckdb.connect()
    yield DuckDBBackend(con)
    con.close()


def load_graph(backend, edges: list[tuple[int, int, float]], flagged: dict[int, bool],
               kinds: dict[str, list] | None = None) -> None:
    a, b, w = zip(*edges) if edges else ((), (), ())
    cols = {"a": pa.array(a, pa.int32()), "b": pa.array(b, pa.int32()),
            "weight": pa.array(w, pa.float64())}
    for name, values in (kinds or {}).items():
        cols[name] = pa.array(values, pa.float64())
    backend.register_arrow("fused_edges", pa.table(cols))
    backend.register_arrow("account_scores", pa.table({
        "account": pa.array(list(flagged), pa.int32()),
        "flagged": pa.array(list(flagged.values()), pa.bool_())}))


def clique(members, weight=3.0):
    return [(x, y, weight) for x, y in itertools.combinations(sorted(members), 2)]


def clusters(backend) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for account, cid in backend.query("SELECT account, cluster_id FROM cluster_members"):
        out.setdefault(cid, set()).add(account)
    return out


def test_two_cliques_numbered_by_size(backend):
    """Two cliques (sizes 3 and 5, the small one with the smaller keys) joined by one weak
    edge give two clusters, the larger numbered 1; an unflagged account tied to every
    member is left out, and a flagged account whose only edge is to an unflagged one gets
    no cluster."""
    small, large = {1, 2, 3}, {10, 11, 12, 13, 14}
    edges = clique(small) + clique(large) + [(3, 10, 0.1)]
    edges += [(x, 99, 5.0) for x in sorted(small | large)]  # 99 is not flagged
    edges += [(50, 99, 5.0)]  # 50 flagged, no flagged partner
    flagged = {x: True for x in small | large | {50}} | {99: False}
    load_graph(backend, sorted((min(x, y), max(x, y), w) for x, y, w in edges), flagged)
    assert leiden_clusters(backend, seed=1) == 2
    assert clusters(backend) == {1: large, 2: small}
    # the reference: this split is a modularity optimum of the flagged subgraph (networkx)
    g = nx.Graph()
    g.add_weighted_edges_from(e for e in edges if 99 not in e[:2])
    assert nx.community.modularity(g, [large, small]) > max(
        nx.community.modularity(g, [large | small]),
        nx.community.modularity(g, [large - {10}, small | {10}]))


def test_ties_in_size_go_to_the_smallest_member(backend):
    """Two clusters of equal size are numbered by their smallest account key, whatever the
    order of the edges."""
    edges = clique({20, 21, 22}) + clique({5, 30, 31})
    load_graph(backend, sorted(edges, reverse=True), {x: True for x in (5, 20, 21, 22, 30, 31)})
    assert leiden_clusters(backend, seed=7) == 2
    assert clusters(backend) == {1: {5, 30, 31}, 2: {20, 21, 22}}


def test_no_flagged_edges_gives_no_clusters(backend):
    """Without an edge between two flagged accounts there is no cluster (and the table
    exists, empty)."""
    load_graph(backend, [(1, 2, 4.0), (2, 3, 4.0)], {1: True, 2: False, 3: True})
    assert leiden_clusters(backend, seed=1) == 0
    assert backend.scalar("SELECT count(*) FROM cluster_members") == 0
    load_graph(backend, [], {1: True})
    assert leiden_clusters(backend, seed=1) == 0


def test_same_seed_same_clusters(backend):
    """On a graph with no obvious split (a ring of cliques with random-ish weights) the same
    seed gives the same membership twice."""
    edges = []
    for i in range(6):
        members = {10 * i + j for j in range(4)}
        edges += clique(members, weight=1.0 + i / 10)
        edges.append((10 * i + 3, (10 * (i + 1)) % 60, 2.0))
    edges = sorted((min(x, y), max(x, y), w) for x, y, w in edges)
    nodes = {x for e in edges for x in e[:2]}
    load_graph(backend, edges, {x: True for x in nodes})
    n1 = leiden_clusters(backend, seed=3)
    first = backend.query("SELECT * FROM cluster_members ORDER BY account")
    n2 = leiden_clusters(backend, seed=3)
    assert n1 == n2 and backend.query("SELECT * FROM cluster_members ORDER BY account") == first
    assert {a for a, _ in first} == nodes


def test_cluster_summaries_density_edges_and_shared(backend):
    """cluster_summary: size, internal edges (an edge across clusters does not count),
    density = edges / (size choose 2), edges per kind (p_<kind> not NULL), the strongest
    edge first, a hashtag shared by two members (reposts left out), first/last activity."""
    backend.register_arrow("cluster_members", pa.table({
        "account": pa.array([1, 2, 3, 4, 5], pa.int32()),
        "cluster_id": pa.array([1, 1, 1, 2, 2], pa.int64())}))
    load_graph(backend, [(1, 2, 5.0), (2, 3, 2.0), (3, 4, 9.0), (4, 5, 1.0)], {},
               kinds={"p_repost": [1e-6, None, 1e-9, 1e-3], "p_hashtag": [1e-4, 1e-3, None,
                                                                          None]})
    backend.register_arrow("account_keys", pa.table({
        "account_key": pa.array([1, 2, 3, 4, 5], pa.int32()),
        "platform": ["x"] * 5, "account_id": ["u1", "u2", "u3", "u4", "u5"]}))
    t0 = datetime(2020, 1, 1)
    posts = [("p1", "u1", 0, "post"), ("p2", "u2", 5, "post"), ("p3", "u3", 9, "repost"),
             ("p4", "u3", 60, "post"), ("p5", "u4", 1, "post"), ("p6", "u5", 2, "post"),
             ("p7", "u9", 500, "post")]  # u9 is in no cluster
    backend.register_arrow("posts", pa.table({
        "platform": ["x"] * len(posts), "post_id": [p[0] for p in posts],
        "account_id": [p[1] for p in posts],
        "created_at": pa.array([t0 + timedelta(minutes=p[2]) for p in posts], pa.timestamp("us")),
        "kind": [p[3] for p in posts], "text": [None] * len(posts)}))
    ents = [("p1", "#a"), ("p2", "#a"), ("p3", "#b"), ("p4", "#c"), ("p1", "#b"),
            ("p5", "#a"), ("p7", "#a")]
    backend.register_arrow("entities", pa.table({
        "platform": ["x"] * len(ents), "post_id": [e[0] for e in ents],
        "kind": ["hashtag"] * len(ents), "value": [e[1] for e in ents]}))
    cluster_summaries(backend, ["repost", "hashtag"])
    rows = backend.to_arrow("SELECT * FROM cluster_summary ORDER BY cluster_id").to_pylist()
    c1, c2 = rows
    assert (c1["size"], c1["edges"], c2["size"], c2["edges"]) == (3, 2, 2, 1)
    assert c1["density"] == pytest.approx(2 / 3) and c2["density"] == 1.0
    assert (c1["edges_repost"], c1["edges_hashtag"]) == (1, 2)
    assert (c2["edges_repost"], c2["edges_hashtag"]) == (1, 0)
    assert [(s["account_a"], s["account_b"]) for s in c1["strongest"]] == [("u1", "u2"),
                                                                          ("u2", "u3")]
    # #a: u1 and u2 (u4 and u9 are elsewhere); #b only in u1's post and u3's repost
    assert c1["top_hashtags"] == [{"value": "#a", "members": 2}]
    assert c2["top_hashtags"] is None
    assert (c1["first_activity"], c1["last_activity"], c1["posts"]) == (
        t0, t0 + timedelta(minutes=60), 4)
