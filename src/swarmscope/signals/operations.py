"""Temporal signals in ``detect``'s output: activity fingerprints, working zones and shift work
(:mod:`swarmscope.signals`). They describe accounts and clusters; they do not enter the
account score (account-only signals can tell data sources apart by their artefacts).

Shift work is analysed per *operation*: the crews of a shift operation are never on duty
together, so their co-action is dense within a crew and sparse across (at hand-overs), and
Leiden gives each crew its own cluster. An operation is a connected group of clusters, two
clusters being joined when at least ``LINK_EDGES`` edges (pairs at p <= alpha_pair, as in
``detect_edges``) join their members; a cluster without such links is an operation of its own. Operations are numbered by
their smallest cluster id.
"""

from __future__ import annotations

import pyarrow as pa

from swarmscope.signals.fingerprints import bloc_similarity, build_fingerprints
from swarmscope.signals.shifts import shift_tables
from swarmscope.signals.zones import account_zones
from swarmscope.store.backend import Backend

#: Edges between two clusters' members that join them into one operation.
LINK_EDGES = 3


def operations(db: Backend) -> None:
    """Fill the temp table ``operation_members(account, cluster_id, group_id)`` from
    ``cluster_members`` and ``fused_edges`` (see the module docstring)."""
    links = db.query(f"""
        SELECT least(ma.cluster_id, mb.cluster_id) AS a, greatest(ma.cluster_id, mb.cluster_id) AS b
        FROM fused_edges e JOIN cluster_members ma ON ma.account = e.a
        JOIN cluster_members mb ON mb.account = e.b
        WHERE ma.cluster_id <> mb.cluster_id
        GROUP BY ALL HAVING count(*) >= {LINK_EDGES}""")
    root: dict[int, int] = {}

    def find(c: int) -> int:
        while root.get(c, c) != c:
            c = root[c]
        return c

    for a, b in links:  # one step per linked pair of clusters, not per account
        ra, rb = find(a), find(b)
        root[max(ra, rb)] = min(ra, rb)
    db.register_arrow("operation_roots", pa.table({"cluster_id": list(root) or [0],
                                              "root": [find(c) for c in root] or [0]}))
    db.execute("""
        CREATE OR REPLACE TEMP TABLE operation_members AS
        SELECT m.account, m.cluster_id, coalesce(r.root, m.cluster_id) AS group_id
        FROM cluster_members m LEFT JOIN operation_roots r USING (cluster_id)""")
    db.drop("operation_roots")


def temporal_signals(db: Backend, run_id: int, where: str = "true") -> None:
    """Build the temporal signals of the posts matching ``where`` for the operations formed by
    the clusters in the temp table ``cluster_members`` and store them as
    ``detect_fingerprints``, ``detect_operations``, ``detect_shifts``, ``detect_shift_hours``."""
    build_fingerprints(db, where)
    account_zones(db)
    operations(db)
    groups = "SELECT account, group_id FROM operation_members"
    bloc_similarity(db, groups)
    shifts = shift_tables(db, groups)
    for name, table in shifts.items():
        db.register_arrow(f"shift_{name}_arrow", table)
    with db.transaction():
        db.persist("detect_fingerprints", f"""
                SELECT {run_id} AS run_id, k.platform, k.account_id, m.cluster_id,
               m.group_id AS operation_id, f.posts,
               f.first_post, f.last_post, f.active_days, z.active_start_utc, z.active_hours,
               f.burstiness, f.memory, f.gap_entropy, z.zone_offset, z.zone_rhythm, z.zone_fit,
               z.claimed_location, z.claimed_offset, z.zone_gap_hours, z.mismatch_strength,
               z.zone_mismatch, s.segment AS shift_segment,
               b.bloc_similarity, f.hour_of_week, f.bloc
        FROM fingerprints f JOIN account_keys k ON k.account_key = f.account
        JOIN account_zones z USING (account)
        LEFT JOIN operation_members m USING (account)
        LEFT JOIN shift_members_arrow s USING (account)
        LEFT JOIN bloc_members b USING (account)""")
        db.persist("detect_operations", f"""
                SELECT {run_id} AS run_id, t.group_id AS operation_id, c.clusters,
               t.* EXCLUDE (group_id), b.bloc_similarity
        FROM shift_timing_arrow t LEFT JOIN bloc_groups b USING (group_id)
        LEFT JOIN (SELECT group_id, list(DISTINCT cluster_id ORDER BY cluster_id) AS clusters
                   FROM operation_members GROUP BY ALL) c USING (group_id)""")
        db.persist("detect_shifts", f"""
                SELECT {run_id} AS run_id, group_id AS operation_id, * EXCLUDE (group_id)
        FROM shift_segments_arrow""")
        db.persist("detect_shift_hours", f"""
                SELECT {run_id} AS run_id, m.group_id AS operation_id, m.cluster_id, k.account_id,
               s.segment, h.hour_utc,
               CAST((h.hour_utc + t.zone_offset + 24) % 24 AS INTEGER) AS hour_local, h.posts
        FROM operation_members m JOIN account_keys k ON k.account_key = m.account
        JOIN (SELECT account, unnest(range(24)) AS hour_utc, unnest(hour_of_day) AS posts
              FROM fingerprints) h USING (account)
        LEFT JOIN shift_members_arrow s USING (account)
        LEFT JOIN shift_timing_arrow t ON t.group_id = m.group_id""")
    for name in shifts:
        db.drop(f"shift_{name}_arrow")
