"""Communities: Leiden clusters of the flagged accounts, and what binds each cluster.

The graph: flagged accounts, joined by their fused edges (weight -log10 of the pair's smallest
p-value). Leiden (Traag, Waltman & van Eck, Sci. Rep. 9:5233, 2019; igraph + leidenalg) with
modularity and a fixed seed. Accounts left alone (no edge to another flagged account) get no
cluster: a cluster is at least two accounts.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from swarmscope.store.backend import Backend


def leiden_clusters(db: Backend, seed: int) -> int:
    """Fill the temp table ``cluster_members(account, cluster_id)``; returns the cluster count.
    Clusters are numbered from 1 by decreasing size."""
    import igraph as ig  # imported when used, as the command line starts faster without
    import leidenalg
    edges = db.to_arrow("""
        SELECT e.a, e.b, e.weight FROM fused_edges e
        JOIN account_scores sa ON sa.account = e.a AND sa.flagged
        JOIN account_scores sb ON sb.account = e.b AND sb.flagged
        ORDER BY e.a, e.b""")
    a, b = edges.column("a").to_numpy(), edges.column("b").to_numpy()
    nodes = np.unique(np.concatenate([a, b]))
    members = pa.table({"account": pa.array([], pa.int32()), "cluster_id": pa.array([], pa.int64())})
    if len(nodes):
        g = ig.Graph(n=len(nodes), edges=np.column_stack(
            [np.searchsorted(nodes, a), np.searchsorted(nodes, b)]).tolist())
        part = leidenalg.find_partition(g, leidenalg.ModularityVertexPartition,
                                        weights=edges.column("weight").to_pylist(), seed=seed)
        membership = np.asarray(part.membership)
        sizes = np.bincount(membership)
        rank = np.empty(len(sizes), np.int64)  # by size, then by smallest member
        first = np.full(len(sizes), len(nodes))
        np.minimum.at(first, membership, np.arange(len(nodes)))
        rank[np.lexsort((first, -sizes))] = np.arange(1, len(sizes) + 1)
        keep = sizes[membership] >= 2
        members = pa.table({"account": pa.array(nodes[keep], pa.int32()),
                            "cluster_id": pa.array(rank[membership[keep]], pa.int64())})
    db.register_arrow("cluster_members", members)
    return db.scalar("SELECT count(DISTINCT cluster_id) FROM cluster_members")


def cluster_summaries(db: Backend, kinds: list[str], top: int = 5) -> None:
    """Fill the temp table ``cluster_summary``: per cluster its size, internal edges, density,
    the signals that bind it (edges per kind with p <= the pair level), its strongest edges, the
    hashtags, domains and texts shared by most members, and first and last activity."""
    per_kind = ", ".join(f"count(*) FILTER (WHERE e.\"p_{k}\" IS NOT NULL) AS \"edges_{k}\""
                         for k in kinds)
    db.materialise("cluster_edges", """
        SELECT ma.cluster_id, e.* FROM fused_edges e
        JOIN cluster_members ma ON ma.account = e.a
        JOIN cluster_members mb ON mb.account = e.b AND mb.cluster_id = ma.cluster_id""")
    db.materialise("member_posts", """
        SELECT m.cluster_id, m.account, p.platform, p.post_id, p.created_at, p.kind, p.text
        FROM cluster_members m JOIN account_keys k ON k.account_key = m.account
        JOIN posts p ON p.platform = k.platform AND p.account_id = k.account_id""")
    d = db.dialect
    shared = d.struct(value="value", members="members")
    db.materialise("cluster_shared", f"""
        SELECT cluster_id,
               {d.ordered_list(shared, "rank", "kind = 'hashtag'")} AS top_hashtags,
               {d.ordered_list(shared, "rank", "kind = 'domain'")} AS top_domains,
               {d.ordered_list(shared, "rank", "kind = 'text'")} AS top_texts
        FROM (SELECT *, row_number() OVER (PARTITION BY cluster_id, kind
                                           ORDER BY members DESC, value) AS rank
              FROM (SELECT mp.cluster_id, e.kind, e.value, count(DISTINCT mp.account) AS members
                    FROM member_posts mp JOIN entities e ON e.platform = mp.platform
                         AND e.post_id = mp.post_id
                    WHERE e.kind IN ('hashtag', 'domain') AND mp.kind <> 'repost'
                    GROUP BY ALL HAVING count(DISTINCT mp.account) >= 2
                    UNION ALL
                    SELECT cluster_id, 'text', min(text), count(DISTINCT account)
                    FROM member_posts WHERE text IS NOT NULL AND length(text) >= 20
                    GROUP BY cluster_id, lower(trim(text))
                    HAVING count(DISTINCT account) >= 2) shared) ranked
        WHERE rank <= {int(top)}
        GROUP BY cluster_id""")
    db.materialise("cluster_summary", f"""
        SELECT s.cluster_id, s.size, coalesce(ce.edges, 0) AS edges,
               coalesce(ce.edges, 0) / (s.size * (s.size - 1) / 2) AS density,
               act.first_activity, act.last_activity, act.posts,
               ce.strongest, {', '.join(f'ce."edges_{k}"' for k in kinds)},
               c.top_hashtags, c.top_domains, c.top_texts
        FROM (SELECT cluster_id, count(*) AS size FROM cluster_members GROUP BY ALL) s
        LEFT JOIN (SELECT cluster_id, count(*) AS edges, {per_kind},
                          {d.ordered_list(d.struct(account_a="account_a", account_b="account_b",
                                                   weight="weight"), "rank",
                                          f"rank <= {int(top)}")} AS strongest
                   FROM (SELECT e.*, ka.account_id AS account_a, kb.account_id AS account_b,
                                row_number() OVER (PARTITION BY e.cluster_id ORDER BY e.weight
                                                   DESC, ka.account_id, kb.account_id) AS rank
                         FROM cluster_edges e JOIN account_keys ka ON ka.account_key = e.a
                         JOIN account_keys kb ON kb.account_key = e.b) e
                   GROUP BY cluster_id) ce
               USING (cluster_id)
        LEFT JOIN cluster_shared c USING (cluster_id)
        LEFT JOIN (SELECT cluster_id, min(created_at) AS first_activity,
                          max(created_at) AS last_activity, count(*) AS posts
                   FROM member_posts GROUP BY ALL) act USING (cluster_id)
        ORDER BY s.cluster_id""")
