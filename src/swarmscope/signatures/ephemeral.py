"""Ephemeral posting: posts deleted within minutes of being sent, in synchronised bursts.

Elmas et al., "Ephemeral Astroturfing Attacks: The Case of Fake Twitter Trends" (EuroS&P 2021):
bots post a keyword and delete the posts at once; the platform's trend algorithm counted them, so
the keyword trends with no trace left. Where the store knows deletions (``post_deletions``,
from ``--map deleted_at=...``), a post is *ephemeral* when it lived at most ``max_life_s``. The
distinct accounts posting ephemeral posts per bin are tested for surges per hashtag, and over
all posts together (object ``*``: the only option when the posts carry no text, as in the
astrobots' deletion stream) against the rate over the span (:mod:`swarmscope.signatures.surges`).
"""

from __future__ import annotations

from dataclasses import dataclass


from swarmscope.store.backend import Backend
from swarmscope.signatures.surges import (SurgeParams, coordination_shares, evidence_sql,
                                          find_surges)


@dataclass(frozen=True)
class EphemeralParams(SurgeParams):
    """:class:`SurgeParams` over 10-minute bins, and the longest life of an ephemeral post
    (seconds)."""

    bin_s: float = 600.0
    max_life_s: float = 600.0


def ephemeral_bursts(db: Backend, time_filter: str = "true",
                     params: EphemeralParams = EphemeralParams()) -> int:
    """Fill the temp table ``ephemeral_found`` (columns in
    ``swarmscope.store.schema``); returns the burst count (0 when the store knows no
    deletions)."""
    if not (db.has_table("post_deletions", temporary=False)
            and db.scalar("SELECT count(*) FROM (SELECT 1 FROM post_deletions LIMIT 1)")):
        db.execute("""CREATE OR REPLACE TEMP TABLE ephemeral_found (rank BIGINT, object VARCHAR,
            start_time TIMESTAMP, end_time TIMESTAMP, accounts BIGINT, posts BIGINT,
            expected DOUBLE, p_value DOUBLE, q_value DOUBLE, median_life_s DOUBLE,
            flagged_share DOUBLE, clustered_share DOUBLE, flagged_accounts BIGINT,
            clusters STRUCT(cluster_id BIGINT, accounts BIGINT, posts BIGINT)[],
            evidence STRUCT(post_id VARCHAR, account_id VARCHAR, ts TIMESTAMP)[])""")
        return 0
    db.execute(f"""
        CREATE OR REPLACE TEMP TABLE ephemeral_posts AS
        SELECT * FROM (
            SELECT p.platform, p.post_id, p.account_key, p.created_at,
                   epoch(d.deleted_at) - epoch(p.created_at) AS life_s
            FROM (SELECT * FROM posts WHERE {time_filter}) p
            JOIN (SELECT platform, post_id, min(deleted_at) AS deleted_at FROM post_deletions
                  GROUP BY ALL) d USING (platform, post_id))
        WHERE life_s BETWEEN 0 AND {float(params.max_life_s)}""")
    source = """
        SELECT '*' AS object, account_key AS account, post_id, created_at AS ts
        FROM ephemeral_posts
        UNION ALL
        SELECT 'hashtag:' || lower(e.value), p.account_key, p.post_id, p.created_at
        FROM ephemeral_posts p JOIN entities e USING (platform, post_id)
        WHERE e.kind = 'hashtag'"""
    n = find_surges(db, source, "ephemeral", bin_s=params.bin_s, fdr=params.fdr,
                    min_accounts=params.min_accounts)
    db.execute(f"""
        CREATE OR REPLACE TEMP TABLE ephemeral_found AS
        SELECT row_number() OVER (ORDER BY b.p_value, b.accounts DESC, b.object, b.start_time)
                   AS rank,
               b.object, b.start_time, b.end_time, b.accounts, b.posts, b.expected, b.p_value,
               b.q_value, l.median_life_s, s.flagged_share, s.clustered_share, s.flagged_accounts,
               s.clusters, e.evidence
        FROM ephemeral_bursts b JOIN ({coordination_shares(db, "ephemeral")}) s
          USING (object, burst)
        JOIN ({evidence_sql("ephemeral")}) e USING (object, burst)
        JOIN (SELECT bp.object, bp.burst, median(p.life_s) AS median_life_s
              FROM ephemeral_burst_posts bp JOIN ephemeral_posts p USING (post_id)
              GROUP BY ALL) l USING (object, burst)
        ORDER BY rank""")
    return n
