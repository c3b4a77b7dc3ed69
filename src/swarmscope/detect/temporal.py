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

import duckdb
import pyarrow as pa

from swarmscope.signals.shifts import shift_tables
from swarmscope.signals.temporal import MIN_POSTS, bloc_similarity, build_fingerprints
from swarmscope.signals.timezones import account_zones

#: Edges between two clusters' members that join them into one operation.
LINK_EDGES = 3

#: The stored tables and the Parquet files ``detect --out`` writes them to.
TABLES = (("detect_fingerprints", "fingerprints"), ("detect_operations", "operations"),
          ("detect_shifts", "shifts"), ("detect_shift_hours", "shift_hours"))

COLUMNS = {
    "fingerprints.parquet": {
        "platform, account_id, cluster_id, operation_id": f"an account with >= {MIN_POSTS} "
                                                          "posts, its cluster and operation",
        "posts, first_post, last_post, active_days": "its activity (UTC)",
        "hour_of_week": "168 post counts by UTC hour of the week, Monday 00h first",
        "active_start_utc, active_hours": "the shortest run of hours (wrapping) with 90% of "
                                          "its posts",
        "burstiness": "(sigma - mu) / (sigma + mu) of gaps < 1 day (Goh & Barabasi, EPL 2008): "
                      "-1 periodic, 0 Poisson, -> 1 bursty",
        "memory": "correlation of consecutive gaps (Goh & Barabasi 2008)",
        "gap_entropy": "entropy (bits) of the gaps binned by powers of two seconds",
        "bloc": "BLOC action string (Nwala et al., EPJ Data Sci. 2023): T post, r repost, "
                "p reply, q quote, pauses □ <1 min ⚀ <1 h ⚁ <1 d ⚂ <1 wk ⚃ <1 mo ⚄ <1 y ⚅",
        "bloc_similarity": "mean TF-IDF cosine of its BLOC bigrams to its operation's other "
                           "members",
        "zone_offset, zone_rhythm, zone_fit": "inferred UTC offset (h), the template it fits "
                                              "(office 09-17 / day, sleep 00-07) and the "
                                              "Pearson r of the fit",
        "claimed_location, claimed_offset": "reported location and its UTC offset (built-in "
                                            "place table), when recognised",
        "zone_gap_hours, mismatch_strength, zone_mismatch": "inferred - claimed zone (h, "
            "circular); fit at inferred minus best fit within 1 h of claimed; mismatch = gap "
            ">= 2 h, fit >= 0.5, >= 20 posts",
        "shift_segment": "its operation's shift segment, when it works one",
    },
    "operations.parquet": {
        "operation_id, clusters": "an operation: clusters joined by >= 3 edges",
        "members, fingerprinted": "its accounts and those with a fingerprint",
        "zone_offset, zone_rhythm, zone_fit, claimed_offset, zone_gap_hours, mismatch_strength, "
        "zone_mismatch": "as per account, on the rhythm of its best-staffed shift (or the "
                         "whole operation); claimed = the members' most common claimed zone",
        "coverage_hours": "UTC hours in which it posts >= 1/4 of its mean hourly rate",
        "shift_members, shift_segments, shift_structure": "members with a block <= 10 h, their "
            "segments, and whether shifts cover the day (>= 20 h, >= 2 segments)",
        "handoffs, days": "hand-offs between consecutive segments; UTC days with posts",
        "bloc_similarity": "mean pairwise TF-IDF cosine of the members' BLOC bigrams",
    },
    "shifts.parquet": {
        "operation_id, segment": "one shift segment",
        "start_utc, end_utc, hours, start_local, end_local": "its block, UTC and in the "
                                                             "operation's inferred zone",
        "members, posts_share": "its workers and their share of the operation's posts",
        "handoffs_in, handoff_gap_min": "days the previous segment handed over to it; median "
                                        "minutes from the last outgoing to the first incoming post",
    },
    "shift_hours.parquet": {
        "operation_id, cluster_id, account_id, segment, hour_utc, hour_local, posts":
            "plot-ready: posts per member and hour of day",
    },
}


def operations(con: duckdb.DuckDBPyConnection) -> None:
    """Fill the temp table ``operation_members(account, cluster_id, group_id)`` from
    ``cluster_members`` and ``fused_edges`` (see the module docstring)."""
    links = con.sql(f"""
        SELECT least(ma.cluster_id, mb.cluster_id) AS a, greatest(ma.cluster_id, mb.cluster_id) AS b
        FROM fused_edges e JOIN cluster_members ma ON ma.account = e.a
        JOIN cluster_members mb ON mb.account = e.b
        WHERE ma.cluster_id <> mb.cluster_id
        GROUP BY ALL HAVING count(*) >= {LINK_EDGES}""").fetchall()
    root: dict[int, int] = {}

    def find(c: int) -> int:
        while root.get(c, c) != c:
            c = root[c]
        return c

    for a, b in links:  # one step per linked pair of clusters, not per account
        ra, rb = find(a), find(b)
        root[max(ra, rb)] = min(ra, rb)
    con.register("operation_roots", pa.table({"cluster_id": list(root) or [0],
                                              "root": [find(c) for c in root] or [0]}))
    con.execute("""
        CREATE OR REPLACE TEMP TABLE operation_members AS
        SELECT m.account, m.cluster_id, coalesce(r.root, m.cluster_id) AS group_id
        FROM cluster_members m LEFT JOIN operation_roots r USING (cluster_id)""")
    con.unregister("operation_roots")


def temporal_signals(con: duckdb.DuckDBPyConnection, run_id: int, where: str = "true") -> None:
    """Build the temporal signals of the posts matching ``where`` for the operations formed by
    the clusters in the temp table ``cluster_members`` and store them as ``TABLES``."""
    build_fingerprints(con, where)
    account_zones(con)
    operations(con)
    groups = "SELECT account, group_id FROM operation_members"
    bloc_similarity(con, groups)
    shifts = shift_tables(con, groups)
    for name, table in shifts.items():
        con.register(f"shift_{name}_arrow", table)
    con.execute(f"""
        BEGIN TRANSACTION;
        CREATE OR REPLACE TABLE detect_fingerprints AS
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
        LEFT JOIN bloc_members b USING (account)
        ORDER BY k.platform, k.account_id;
        CREATE OR REPLACE TABLE detect_operations AS
        SELECT {run_id} AS run_id, t.group_id AS operation_id, c.clusters,
               t.* EXCLUDE (group_id), b.bloc_similarity
        FROM shift_timing_arrow t LEFT JOIN bloc_groups b USING (group_id)
        LEFT JOIN (SELECT group_id, list(DISTINCT cluster_id ORDER BY cluster_id) AS clusters
                   FROM operation_members GROUP BY ALL) c USING (group_id)
        ORDER BY operation_id;
        CREATE OR REPLACE TABLE detect_shifts AS
        SELECT {run_id} AS run_id, group_id AS operation_id, * EXCLUDE (group_id)
        FROM shift_segments_arrow ORDER BY operation_id, segment;
        CREATE OR REPLACE TABLE detect_shift_hours AS
        SELECT {run_id} AS run_id, m.group_id AS operation_id, m.cluster_id, k.account_id,
               s.segment, h.hour_utc,
               CAST((h.hour_utc + t.zone_offset + 24) % 24 AS INTEGER) AS hour_local, h.posts
        FROM operation_members m JOIN account_keys k ON k.account_key = m.account
        JOIN (SELECT account, unnest(range(24)) AS hour_utc, unnest(hour_of_day) AS posts
              FROM fingerprints) h USING (account)
        LEFT JOIN shift_members_arrow s USING (account)
        LEFT JOIN shift_timing_arrow t ON t.group_id = m.group_id
        ORDER BY m.group_id, s.segment NULLS LAST, k.account_id, h.hour_utc;
        COMMIT;""")
    for name in shifts:
        con.unregister(f"shift_{name}_arrow")
